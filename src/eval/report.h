// `edgeq report`: reads result JSON files in the shared schema (docs/results-schema.md, "edgeq.result/1")
// and renders one self-contained HTML page (tables + inline SVG charts, no scripts, no external URLs) or
// Markdown.
//
// Results are merged into rows by (method, precision): `edgeq eval --json` (accuracy), `edgeq bench --json`
// (latency) and `edgeq quantize --json` (size) of the same model give one row; where several results carry
// the same metric, the first one (in command-line and file order) wins. The FP32 row (precision
// "fp32"; the first one if several) is the baseline for "% of FP32" and the speedup.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "edgeq/status.h"

namespace edgeq::report {

inline constexpr const char* kResultSchema = "edgeq.result/1";

// Checks one result object against the schema (envelope fields and the types of the known metrics).
// `where` names it in the message, e.g. "a.json" or "a.json line 3".
Status validate_result(const nlohmann::json& j, const std::string& where);

// Reads a results file: one JSON object, a JSON array of objects, or JSON Lines (one object per line, as
// `edgeq eval --json >> all.json` appends). Errors name the file (and line) and say what is wrong.
Result<std::vector<nlohmann::json>> load_results(const std::string& path);

// One row of the table: the merged metrics of every result with the same (method, precision).
struct Row {
    std::string method, precision;
    std::vector<std::string> models, commands;
    std::optional<double> accuracy, fp32_accuracy, bytes, bits_per_weight, latency_ms, throughput_per_s, ppl,
        kld_mean;
    nlohmann::json layers;         // array from `compare`, or null
    nlohmann::json precision_map;  // object from `autotune`, or null
    std::string label() const { return method == precision ? method : method + " " + precision; }
};
// Rows in first-seen order, the FP32 row first.
std::vector<Row> merge_rows(const std::vector<nlohmann::json>& results);

struct ReportOptions {
    std::string title = "edgeq report";
};

// Pareto front of points (x lower is better; y higher is better unless y_lower_better): the indices of the
// points no other point dominates, sorted by x.
std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& pts, bool y_lower_better);

std::string render_html(const std::vector<Row>& rows, const ReportOptions& o);
std::string render_markdown(const std::vector<Row>& rows, const ReportOptions& o);

}  // namespace edgeq::report
