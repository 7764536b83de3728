// edgeq report RESULTS.json... -o report.html [--markdown report.md] [--title T]
// One self-contained HTML page (inline CSS and SVG, no scripts, no external URLs) from result files in the
// shared schema (docs/results-schema.md): the method x precision table, Pareto charts of accuracy vs size and
// vs latency, per-layer SQNR bars (results with "layers") and precision maps (results with "precision_map").
// Every input is read and checked before anything is written; outputs are written to a temporary file and
// renamed.
#include <string>
#include <vector>

#include "core/file.h"
#include "eval/report.h"
#include "tools/edgeq/commands.h"

namespace edgeq::cli {
namespace {

struct ReportCli {
    std::vector<std::string> inputs;
    std::string html, markdown, title = "edgeq report";
};

Status write_atomic(const std::string& path, const std::string& text) {
    EDGEQ_ASSIGN_OR_RETURN(auto f, AtomicFile::create(path));
    EDGEQ_RETURN_IF_ERROR(f->write(text.data(), text.size()));
    return f->commit();
}

Status run(const ReportCli& c) {
    if (c.html.empty() && c.markdown.empty())
        return InvalidArgument("nothing to write: give -o report.html and/or --markdown report.md");
    std::vector<nlohmann::json> results;
    for (const std::string& in : c.inputs) {
        EDGEQ_ASSIGN_OR_RETURN(auto rs, report::load_results(in));
        for (auto& r : rs) results.push_back(std::move(r));
    }
    const std::vector<report::Row> rows = report::merge_rows(results);
    report::ReportOptions o;
    o.title = c.title;
    if (!c.html.empty()) EDGEQ_RETURN_IF_ERROR(write_atomic(c.html, report::render_html(rows, o)));
    if (!c.markdown.empty())
        EDGEQ_RETURN_IF_ERROR(write_atomic(c.markdown, report::render_markdown(rows, o)));
    return Status::Ok();
}

}  // namespace

void register_report(CLI::App& app) {
    auto c = std::make_shared<ReportCli>();
    auto* cmd = app.add_subcommand("report",
                                   "HTML (and Markdown) report from result JSON files: table, Pareto charts, "
                                   "per-layer error and precision");
    cmd->footer(
        "Example:\n"
        "  edgeq eval  model.onnx      --data x.npy --labels y.npy --json  > fp32.json\n"
        "  edgeq bench model.onnx      --json >> fp32.json\n"
        "  edgeq quantize model.onnx int8.onnx --method dynamic --json > int8.json\n"
        "  edgeq eval  int8.onnx ... --json >> int8.json;  edgeq bench int8.onnx --json >> int8.json\n"
        "  edgeq report fp32.json int8.json -o report.html --markdown report.md --title 'mnist'\n"
        "Inputs: one JSON object, an array of them, or JSON Lines, each in the schema of "
        "docs/results-schema.md\n"
        "(every --json output of edgeq). Results with the same method and precision form one row.");
    cmd->add_option("RESULTS", c->inputs, "Result JSON files (edgeq ... --json)")->required();
    cmd->add_option("-o,--output", c->html, "HTML report to write (self-contained: no scripts, no network)");
    cmd->add_option("--markdown", c->markdown, "Markdown report to write (the tables)");
    cmd->add_option("--title", c->title, "Title (default 'edgeq report')");
    cmd->callback([c] { report("report", run(*c)); });
}

}  // namespace edgeq::cli
