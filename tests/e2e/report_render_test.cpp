// eval/report.h without the CLI: schema validation, loading (object / array / JSON Lines), merging results
// into method x precision rows, the Pareto front, and the HTML / Markdown text (one <circle> per result in
// each chart, no scripts or URLs, layer bars and precision maps when present).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "cli_util.h"
#include "eval/report.h"
#include "report_util.h"

namespace edgeq {
namespace {

using nlohmann::json;

json result(const std::string& command, const std::string& method, const std::string& precision,
            json metrics) {
    return {{"schema", report::kResultSchema},
            {"command", command},
            {"model", method + "-" + precision + ".onnx"},
            {"method", method},
            {"precision", precision},
            {"metrics", std::move(metrics)}};
}

std::vector<json> four_results() {
    return {
        result("eval", "fp32", "fp32", {{"accuracy", 0.90}, {"bytes", 4000000}}),
        result("bench", "fp32", "fp32", {{"latency_ms", {{"p50", 2.0}, {"min", 1.9}}}}),
        result("quantize", "dynamic", "int8", {{"bytes", 1000000}, {"bits_per_weight", 8.1}}),
        result("eval", "dynamic", "int8", {{"accuracy", 0.89}, {"bytes", 1000000}, {"bits_per_weight", 8.0}}),
        result("bench", "dynamic", "int8", {{"latency_ms", {{"p50", 1.0}}}}),
        result("eval", "weight-only", "int4", {{"accuracy", 0.85}, {"bytes", 600000}}),
        result("bench", "weight-only", "int4", {{"latency_ms", {{"p50", 1.5}}}}),
        result("eval", "static", "int8", {{"accuracy", 0.88}, {"bytes", 1100000}}),
        result("bench", "static", "int8", {{"latency_ms", {{"p50", 0.5}}}})};
}

TEST(Report, ValidateNamesWhatIsWrong) {
    EXPECT_TRUE(report::validate_result(result("eval", "fp32", "fp32", json::object()), "x").ok());
    auto msg = [](const json& j) { return report::validate_result(j, "f.json").message(); };
    EXPECT_NE(msg(json::array()).find("f.json: expected a JSON object"), std::string::npos);
    EXPECT_NE(msg({{"a", 1}}).find("f.json: no \"schema\" field"), std::string::npos);
    json j = result("eval", "fp32", "fp32", json::object());
    j["schema"] = "edgeq.result/0";
    EXPECT_NE(msg(j).find("is not \"edgeq.result/1\""), std::string::npos) << msg(j);
    j = result("eval", "fp32", "fp32", {{"accuracy", "high"}});
    EXPECT_NE(msg(j).find("metrics.accuracy must be a number"), std::string::npos) << msg(j);
    j = result("eval", "fp32", "fp32", json::object());
    j.erase("precision");
    EXPECT_NE(msg(j).find("\"precision\" must be a string"), std::string::npos) << msg(j);
    j = result("compare", "fp32", "fp32", json::object());
    j["layers"] = json::array({{{"sqnr_db", 3.0}}});
    EXPECT_NE(msg(j).find("layers[0] needs a string \"name\""), std::string::npos) << msg(j);
    j = result("autotune", "mixed", "mixed", json::object());
    j["precision_map"] = {{"conv1", 8}};
    EXPECT_NE(msg(j).find("precision_map[\"conv1\"] must be a string"), std::string::npos) << msg(j);
}

TEST(Report, LoadsObjectArrayAndJsonLines) {
    const fs::path d = tmp_dir();
    const auto rs = four_results();
    {
        std::ofstream(d / "one.json") << rs[0].dump(2);
        std::ofstream(d / "arr.json") << json(rs).dump();
        std::ofstream lines(d / "lines.json");
        for (const auto& r : rs) lines << r.dump() << "\n";
        std::ofstream(d / "bad.json") << "{\"schema\": \"edgeq.result/1\",\n oops";
        std::ofstream(d / "empty.json") << "";
    }
    auto one = report::load_results((d / "one.json").string());
    ASSERT_TRUE(one.ok()) << one.status().message();
    EXPECT_EQ(one->size(), 1u);
    auto arr = report::load_results((d / "arr.json").string());
    ASSERT_TRUE(arr.ok()) << arr.status().message();
    EXPECT_EQ(arr->size(), rs.size());
    auto lines = report::load_results((d / "lines.json").string());
    ASSERT_TRUE(lines.ok()) << lines.status().message();
    EXPECT_EQ(*lines, rs);
    auto bad = report::load_results((d / "bad.json").string());
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("bad.json: not JSON (line 1"), std::string::npos)
        << bad.status().message();
    auto empty = report::load_results((d / "empty.json").string());
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.status().message().find("empty.json: no results"), std::string::npos);
    auto missing = report::load_results((d / "missing.json").string());
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.status().message().find("missing.json: cannot open"), std::string::npos);
}

TEST(Report, MergesByMethodAndPrecisionFp32First) {
    auto rs = four_results();
    std::rotate(rs.begin(), rs.begin() + 2, rs.end());  // fp32 results last
    const auto rows = report::merge_rows(rs);
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[0].precision, "fp32");
    EXPECT_EQ(rows[0].commands, (std::vector<std::string>{"eval", "bench"}));
    EXPECT_EQ(rows[0].latency_ms, 2.0);
    EXPECT_EQ(rows[1].label(), "dynamic int8");
    EXPECT_EQ(rows[1].bits_per_weight, 8.1);  // the first value (quantize's) wins
    EXPECT_EQ(rows[1].accuracy, 0.89);
    EXPECT_EQ(rows[1].latency_ms, 1.0);
}

TEST(Report, ParetoFront) {
    // x lower better, y higher better: (1,1) (2,3) (3,2)-dominated-by-(2,3) (4,4) (4,4)-duplicate (0.5,0.5)
    const std::vector<std::pair<double, double>> p{{1, 1}, {2, 3}, {3, 2}, {4, 4}, {4, 4}, {0.5, 0.5}};
    EXPECT_EQ(report::pareto_front(p, false), (std::vector<size_t>{5, 0, 1, 3}));
    // y lower better (perplexity): (0.5,0.5) beats everything right of it
    EXPECT_EQ(report::pareto_front(p, true), (std::vector<size_t>{5}));
    EXPECT_TRUE(report::pareto_front({}, false).empty());
}

TEST(Report, HtmlHasOnePointPerResultAndNoScripts) {
    auto rows = report::merge_rows(four_results());
    rows[2].layers = json::array({{{"name", "conv1"}, {"sqnr_db", 30.5}, {"precision", "int4"}},
                                  {{"name", "fc<2>"}, {"sqnr_db", 12.0}},
                                  {{"name", "fc3"}},
                                  {{"name", "relu"}, {"sqnr_db", nullptr}}});
    rows[3].precision_map = {{"conv1", "int8"}, {"fc2", "fp16"}, {"fc3", "int8"}};
    report::ReportOptions o;
    o.title = "t & <b>";
    const std::string html = report::render_html(rows, o);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("http"), std::string::npos);  // no external URL of any kind
    EXPECT_NE(html.find("<title>t &amp; &lt;b&gt;</title>"), std::string::npos);
    for (const char* id : {"pareto-size", "pareto-latency"}) {
        const std::string svg = svg_by_id(html, id);
        ASSERT_FALSE(svg.empty()) << id;
        EXPECT_EQ(count_of(svg, "<circle"), 4u) << id;
        EXPECT_EQ(count_of(svg, "<polyline class=\"pareto-front\""), 1u) << id;
        EXPECT_GE(count_of(svg, "<text"), 4u + 2u + 3u) << id;  // point labels, axis labels, ticks
    }
    // size front: int4 (0.6 MB, 0.85), int8 dynamic (1 MB, 0.89), fp32 (4 MB, 0.90); static (1.1 MB, 0.88) is
    // not
    const std::string size = svg_by_id(html, "pareto-size");
    const size_t pts = size.find("points=\"");
    ASSERT_NE(pts, std::string::npos);
    const std::string list = size.substr(pts + 8, size.find('"', pts + 8) - pts - 8);
    EXPECT_EQ(count_of(list, ","), 3u) << list;
    // table: 4 rows + header, % of FP32 and speedup against the fp32 row
    EXPECT_EQ(count_of(html, "<tr"), 5u + 1u + 3u);     // + precision map header and 3 nodes
    EXPECT_NE(html.find("98.9 %"), std::string::npos);  // 0.89 / 0.90
    EXPECT_NE(html.find("4.00x"), std::string::npos);   // 2.0 ms / 0.5 ms
    // layer bars: one rect per layer, escaped names
    const std::string bars = svg_by_id(html, "layers-2");
    EXPECT_EQ(count_of(bars, "<rect class=\"bar\""), 4u);
    EXPECT_NE(bars.find("relu: exact"), std::string::npos);
    EXPECT_NE(bars.find("fc&lt;2&gt;"), std::string::npos);
    EXPECT_NE(html.find("<table class=\"precision-map\">"), std::string::npos);
    EXPECT_NE(html.find("int8: 2</span>"), std::string::npos);

    const std::string md = report::render_markdown(rows, o);
    EXPECT_EQ(md.rfind("# t & <b>\n", 0), 0u) << md;
    EXPECT_NE(md.find("| dynamic | int8 | 89.00 % | 98.9 % | 976.6 KiB | 8.10 | 1.000 ms | 2.00x |"),
              std::string::npos)
        << md;
    EXPECT_NE(md.find("## Per-layer error: weight-only int4"), std::string::npos) << md;
    EXPECT_NE(md.find("| fc3 |  | — |"), std::string::npos) << md;
    EXPECT_NE(md.find("| relu |  | exact |"), std::string::npos) << md;
    EXPECT_NE(md.find("| fc2 | fp16 |"), std::string::npos) << md;
}

TEST(Report, PerplexityRowsUseLowerIsBetter) {
    const std::vector<json> rs{result("perplexity", "fp32", "fp32", {{"ppl", 10.0}, {"bytes", 4000}}),
                               result("perplexity", "gguf", "Q4_K_M", {{"ppl", 10.5}, {"bytes", 1200}}),
                               result("perplexity", "gguf", "Q2_K", {{"ppl", 12.0}, {"bytes", 900}})};
    const std::string html = report::render_html(report::merge_rows(rs), {});
    const std::string svg = svg_by_id(html, "pareto-size");
    EXPECT_EQ(count_of(svg, "<circle"), 3u);
    EXPECT_NE(svg.find("perplexity vs size"), std::string::npos);
    EXPECT_NE(html.find("<th>PPL</th>"), std::string::npos);
    // no latency anywhere: the latency chart is replaced by a note
    EXPECT_TRUE(svg_by_id(html, "pareto-latency").empty());
    EXPECT_NE(html.find("No result has both perplexity and latency"), std::string::npos);
}

}  // namespace
}  // namespace edgeq
