#include "tools/edgeq/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace edgeq::cli {

Progress::Progress(std::string label, int64_t total, bool quiet)
    : label_(std::move(label)),
      total_(std::max<int64_t>(total, 1)),
      quiet_(quiet),
      tty_(isatty(STDERR_FILENO) != 0),
      t0_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
    finish();
}

double Progress::elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

std::string Progress::format_seconds(double s) {
    char b[32];
    if (s < 60)
        std::snprintf(b, sizeof b, "%.1f s", s);
    else if (s < 3600)
        std::snprintf(b, sizeof b, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
    else
        std::snprintf(b, sizeof b, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) / 60 % 60);
    return b;
}

void Progress::update(int64_t done, const std::string& extra) {
    if (quiet_) return;
    std::lock_guard<std::mutex> lock(mu_);
    done = std::clamp<int64_t>(done, 0, total_);
    const double el = elapsed();
    const double eta = done > 0 ? el * static_cast<double>(total_ - done) / static_cast<double>(done) : 0.0;
    const bool last = done == total_;
    const std::string sep = extra.empty() ? "" : "  ";
    if (tty_) {
        if (!last && el - last_draw_ < 0.1) return;
        last_draw_ = el;
        const int width = 30;
        const int filled = static_cast<int>(static_cast<double>(done) / static_cast<double>(total_) * width);
        std::fprintf(stderr, "\redgeq %s [%.*s%*s] %lld/%lld%s%s  %s  ETA %s\033[K", label_.c_str(), filled,
                     "==============================", width - filled, "", static_cast<long long>(done),
                     static_cast<long long>(total_), sep.c_str(), extra.c_str(), format_seconds(el).c_str(),
                     format_seconds(eta).c_str());
        open_line_ = true;
        if (last) {
            std::fprintf(stderr, "\n");
            open_line_ = false;
        }
        std::fflush(stderr);
        return;
    }
    const int tenth = static_cast<int>(done * 10 / total_);
    if (tenth <= last_tenth_) return;
    last_tenth_ = tenth;
    std::fprintf(stderr, "edgeq %s %lld/%lld (%d%%)%s%s, %s, ETA %s\n", label_.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_),
                 static_cast<int>(done * 100 / total_), extra.empty() ? "" : ", ", extra.c_str(),
                 format_seconds(el).c_str(), format_seconds(eta).c_str());
}

void Progress::finish() {
    std::lock_guard<std::mutex> lock(mu_);
    if (open_line_) {
        std::fprintf(stderr, "\n");
        std::fflush(stderr);
        open_line_ = false;
    }
}

}  // namespace edgeq::cli
