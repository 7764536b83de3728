// Progress on stderr for long CLI steps (calibration, quantization, perplexity, eval, bench, training):
//   - on a terminal: one bar redrawn in place (at most 10 times a second, ANSI erase-to-end-of-line) with
//     elapsed time and ETA;
//   - piped / redirected: plain lines "edgeq <label> <done>/<total> (P%), <extra>, <elapsed>, ETA <eta>",
//     one when each tenth of the work is crossed and one at the end (so a log gets ~10 lines per step,
//     independent of timing);
//   - quiet: nothing.
// Thread-safe: update() may be called from worker threads.
//
//   Progress p("quantize: calibration batch", n_batches, quiet);   // "edgeq quantize: calibration batch 3/8
//   (37%), ..." for (...) { ...; p.update(i + 1, "batch 64"); } p.finish();
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace edgeq::cli {

class Progress {
  public:
    // label: "<command>: <unit>", e.g. "perplexity: token" or "eval: image"; total: units of work (> 0).
    Progress(std::string label, int64_t total, bool quiet);
    ~Progress();  // finish()
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    // done of total units finished; extra: short text shown after the counts (e.g. "PPL 12.3").
    void update(int64_t done, const std::string& extra = "");
    // Ends the bar's line on a terminal; idempotent.
    void finish();
    double elapsed() const;  // seconds since construction
    // True when the bar is redrawn (stderr is a terminal, not quiet): callers may then update more often.
    bool redraws() const { return tty_ && !quiet_; }

    // "12.3 s", "4m05s", "2h10m".
    static std::string format_seconds(double s);

  private:
    std::mutex mu_;
    std::string label_;
    int64_t total_;
    bool quiet_, tty_;
    std::chrono::steady_clock::time_point t0_;
    double last_draw_ = -1.0;
    int last_tenth_ = -1;
    bool open_line_ = false;  // a bar is drawn and its line not ended
};

}  // namespace edgeq::cli
