// `edgeq report` end to end: real `--json` outputs of eval / bench / quantize conform to the shared schema
// and make a report; the HTML renders in headless Chromium to a PNG that is not blank, with one SVG point per
// result; bad input gives a one-line error naming the file and leaves no output behind.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli_util.h"
#include "common/shared.h"
#include "eval/report.h"
#include "report_util.h"

namespace edgeq {
namespace {

using nlohmann::json;

const char* kReportFashion = "/usr/share/datasets/fashion-mnist";
const char* kReportPre = "scale=0.00392156862745098,mean=0.2860,std=0.3530";

json synthetic(const std::string& method, const std::string& precision, double acc, double bytes, double ms) {
    return {{"schema", "edgeq.result/1"},
            {"command", "eval"},
            {"model", method + ".onnx"},
            {"method", method},
            {"precision", precision},
            {"metrics", {{"accuracy", acc}, {"bytes", bytes}, {"latency_ms", {{"p50", ms}}}}}};
}

// Minimal PNG decoder (8-bit gray / RGB / RGBA, not interlaced): RGBA pixels, or empty with `why` set.
struct Image {
    uint32_t w = 0, h = 0;
    std::vector<uint32_t> px;  // 0xRRGGBBAA
};
Image decode_png(const std::string& f, std::string& why) {
    Image img;
    auto be32 = [&](size_t p) {
        return (uint32_t(uint8_t(f[p])) << 24) | (uint32_t(uint8_t(f[p + 1])) << 16) |
               (uint32_t(uint8_t(f[p + 2])) << 8) | uint32_t(uint8_t(f[p + 3]));
    };
    if (f.size() < 33 || f.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return why = "not a PNG", img;
    std::string idat;
    int depth = 0, ctype = 0, interlace = 0;
    for (size_t p = 8; p + 8 <= f.size();) {
        const uint32_t len = be32(p);
        const std::string type = f.substr(p + 4, 4);
        if (p + 12 + len > f.size()) return why = "truncated chunk " + type, img;
        if (type == "IHDR") {
            img.w = be32(p + 8), img.h = be32(p + 12);
            depth = uint8_t(f[p + 16]), ctype = uint8_t(f[p + 17]), interlace = uint8_t(f[p + 20]);
        } else if (type == "IDAT") {
            idat += f.substr(p + 8, len);
        }
        p += 12 + len;
    }
    const int ch = ctype == 0 ? 1 : ctype == 2 ? 3 : ctype == 6 ? 4 : 0;
    if (depth != 8 || ch == 0 || interlace) return why = "unsupported PNG (depth/colour type/interlace)", img;
    const size_t stride = size_t(img.w) * ch;
    std::vector<uint8_t> raw((stride + 1) * img.h);
    uLongf n = raw.size();
    if (uncompress(raw.data(), &n, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK ||
        n != raw.size())
        return why = "bad zlib data", img;
    std::vector<uint8_t> prev(stride, 0), cur(stride);
    img.px.resize(size_t(img.w) * img.h);
    for (uint32_t y = 0; y < img.h; ++y) {
        const uint8_t filter = raw[y * (stride + 1)];
        const uint8_t* in = &raw[y * (stride + 1) + 1];
        for (size_t i = 0; i < stride; ++i) {
            const int a = i >= size_t(ch) ? cur[i - ch] : 0, b = prev[i],
                      c = i >= size_t(ch) ? prev[i - ch] : 0;
            int pred = 0;
            switch (filter) {
                case 0:
                    pred = 0;
                    break;
                case 1:
                    pred = a;
                    break;
                case 2:
                    pred = b;
                    break;
                case 3:
                    pred = (a + b) / 2;
                    break;
                case 4: {
                    const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
                    pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
                    break;
                }
                default:
                    return why = "bad filter", img;
            }
            cur[i] = uint8_t(in[i] + pred);
        }
        for (uint32_t x = 0; x < img.w; ++x) {
            const uint8_t* q = &cur[size_t(x) * ch];
            const uint8_t r = q[0], g = ch >= 3 ? q[1] : q[0], bl = ch >= 3 ? q[2] : q[0],
                          al = ch == 4 ? q[3] : 255;
            img.px[size_t(y) * img.w + x] =
                (uint32_t(r) << 24) | (uint32_t(g) << 16) | (uint32_t(bl) << 8) | al;
        }
        std::swap(prev, cur);
    }
    return img;
}

std::string find_chromium() {
    for (const char* c : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
        if (fs::exists(c)) return c;
    return "";
}

TEST(ReportCli, RealResultsRenderInChromium) {
    EDGEQ_REQUIRE_SHARED(model, "assets/fashion-mnist-models/lenet5.onnx");
    if (!fs::exists(fs::path(kReportFashion) / "t10k-images-idx3-ubyte.gz"))
        GTEST_SKIP() << "Debian dataset-fashion-mnist not installed (" << kReportFashion << ")";
    const fs::path d = tmp_dir() / "report";
    fs::create_directories(d);
    const std::string images = std::string(kReportFashion) + "/t10k-images-idx3-ubyte.gz";
    const std::string labels = std::string(kReportFashion) + "/t10k-labels-idx1-ubyte.gz";
    // fp32, dynamic int8, weight-only int4: quantize (size), eval (accuracy), bench (latency) -> JSON Lines
    // files
    struct RunVariant {
        std::string name;
        std::vector<std::string> quantize;
    };
    const std::vector<RunVariant> variants{{"fp32", {}},
                                        {"int8", {"--method", "dynamic"}},
                                        {"int4", {"--method", "weight-only", "--weights", "int4"}}};
    std::vector<std::string> files;
    for (const auto& v : variants) {
        std::string lines;
        std::string m = model.string();
        if (!v.quantize.empty()) {
            m = (d / (v.name + ".onnx")).string();
            std::vector<std::string> a{"quantize", model.string(), m, "--json", "-q"};
            a.insert(a.end(), v.quantize.begin(), v.quantize.end());
            const auto q = run_cli(a);
            ASSERT_EQ(q.rc, 0) << q.err;
            lines += q.out;
        }
        const auto e = run_cli({"eval", m, "--data", images, "--labels", labels, "--preprocess", kReportPre,
                                "--limit", "300", "--json", "-q"});
        ASSERT_EQ(e.rc, 0) << e.err;
        EXPECT_TRUE(e.err.empty()) << "--quiet: " << e.err;
        const auto b =
            run_cli({"bench", m, "--runs", "5", "--warmup", "1", "--threads", "1", "--json", "-q"});
        ASSERT_EQ(b.rc, 0) << b.err;
        lines += e.out + b.out;
        // every line is a valid result; the keys older tests check are still there
        std::istringstream in(lines);
        for (std::string l; std::getline(in, l);) {
            const json j = json::parse(l);
            EXPECT_TRUE(report::validate_result(j, v.name).ok())
                << report::validate_result(j, v.name).message();
            EXPECT_EQ(j["precision"], v.name == "fp32" ? "fp32" : v.name) << l.substr(0, 300);
            if (j["command"] == "eval") {
                EXPECT_TRUE(j.contains("value") && j.contains("count"));
            }
            if (j["command"] == "bench") {
                EXPECT_TRUE(j.contains("model_bytes") && j["metrics"].contains("latency_ms"));
            }
        }
        const fs::path f = d / (v.name + ".json");
        std::ofstream(f) << lines;
        files.push_back(f.string());
    }
    const fs::path html = d / "report.html", md = d / "report.md";
    std::vector<std::string> args{"report"};
    args.insert(args.end(), files.begin(), files.end());
    for (const std::string& a : {std::string("-o"), html.string(), std::string("--markdown"), md.string(),
                                 std::string("--title"), std::string("lenet5")})
        args.push_back(a);
    const auto r = run_cli(args);
    ASSERT_EQ(r.rc, 0) << r.err;
    const std::string page = slurp(html);
    for (const char* id : {"pareto-size", "pareto-latency"})
        EXPECT_EQ(count_of(svg_by_id(page, id), "<circle"), variants.size()) << id;
    EXPECT_EQ(page.find("<script"), std::string::npos);
    EXPECT_EQ(count_of(slurp(md), "\n| "), 1u + variants.size())
        << slurp(md);  // header + one row per variant

    const std::string chromium = find_chromium();
    if (chromium.empty())
        GTEST_SKIP() << "chromium not installed (Debian package chromium; scripts/install-deps.sh): "
                        "the report was written and checked, but not rendered";
    const fs::path png = d / "report.png";
    const std::string cmd =
        chromium + " --headless --no-sandbox --disable-gpu --hide-scrollbars --screenshot=" + png.string() +
        " --window-size=1200,1600 file://" + html.string() + " >" + (d / "chromium.log").string() + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(d / "chromium.log");
    std::string why;
    const Image img = decode_png(slurp(png), why);
    ASSERT_TRUE(why.empty()) << png << ": " << why;
    ASSERT_EQ(img.w, 1200u);
    ASSERT_EQ(img.h, 1600u);
    std::set<uint32_t> colours;
    size_t non_white = 0;
    for (uint32_t p : img.px) {
        colours.insert(p);
        non_white += (p >> 8) != 0xffffffu;
    }
    // text, table rules, axes and coloured points: many colours and a few percent of ink
    EXPECT_GT(colours.size(), 20u);
    EXPECT_GT(non_white, img.px.size() / 100) << non_white << " non-white of " << img.px.size();
}

// GGUF: quantize, perplexity and bench --json conform too; method "gguf", the file type as precision.
TEST(ReportCli, GgufResultsConform) {
    EDGEQ_REQUIRE_SHARED(model, "fixtures/llm/models/stories260K-F32.gguf");
    EDGEQ_REQUIRE_SHARED(text, "assets/datasets/text/tinystories_sample.txt");
    const fs::path q4 = tmp_dir() / "report_q4.gguf";
    const auto q = run_cli({"quantize", model.string(), q4.string(), "Q4_0", "--json", "-q"});
    ASSERT_EQ(q.rc, 0) << q.err;
    const auto p = run_cli(
        {"perplexity", q4.string(), "-f", text.string(), "--ctx", "64", "--chunks", "1", "--json", "-q"});
    ASSERT_EQ(p.rc, 0) << p.err;
    const auto b = run_cli({"bench", model.string(), "--runs", "3", "--warmup", "1", "--json", "-q"});
    ASSERT_EQ(b.rc, 0) << b.err;
    for (const auto* r : {&q, &p, &b}) {
        const json j = json::parse(r->out);
        const Status s = report::validate_result(j, j.value("command", "?"));
        EXPECT_TRUE(s.ok()) << s.message();
    }
    const json jq = json::parse(q.out), jp = json::parse(p.out), jb = json::parse(b.out);
    EXPECT_EQ(jq["method"], "gguf");
    EXPECT_EQ(jq["precision"], "Q4_0");
    EXPECT_EQ(jq["metrics"]["bytes"].get<int64_t>(), static_cast<int64_t>(fs::file_size(q4)));
    EXPECT_EQ(jp["precision"], "Q4_0");
    EXPECT_GT(jp["metrics"]["ppl"].get<double>(), 1.0);
    EXPECT_EQ(jb["precision"], "fp32");
    EXPECT_EQ(jb["method"], "fp32");
}

TEST(ReportCli, BadInputIsOneLineNamingTheFileAndWritesNothing) {
    const fs::path d = tmp_dir() / "report_bad";
    fs::create_directories(d);
    const fs::path good = d / "good.json", notjson = d / "notjson.json", wrong = d / "wrong.json";
    std::ofstream(good) << synthetic("fp32", "fp32", 0.9, 1000, 1.0).dump();
    std::ofstream(notjson) << "accuracy: 0.9\n";
    std::ofstream(wrong) << json{{"schema", "other/2"}, {"metric", "top1"}}.dump();
    const fs::path html = d / "out.html", md = d / "out.md";
    struct Case {
        fs::path input;
        std::string needle;
    };
    for (const Case& c :
         {Case{d / "missing.json", "missing.json: cannot open"}, Case{notjson, "notjson.json: not JSON"},
          Case{wrong, "wrong.json: schema \"other/2\" is not \"edgeq.result/1\""}}) {
        const auto r = run_cli(
            {"report", good.string(), c.input.string(), "-o", html.string(), "--markdown", md.string()});
        expect_one_line_error(r, c.needle);
        EXPECT_FALSE(fs::exists(html)) << c.input;
        EXPECT_FALSE(fs::exists(md)) << c.input;
        EXPECT_TRUE(no_leftovers(html));
    }
    expect_one_line_error(run_cli({"report", good.string()}), "edgeq report: nothing to write");
    expect_one_line_error(run_cli({"report", "-o", html.string()}), "RESULTS is required");
    // an output directory that does not exist: the error names it
    const auto r = run_cli({"report", good.string(), "-o", (d / "no" / "such" / "dir.html").string()});
    expect_one_line_error(r, "dir.html");
}

TEST(ReportCli, HelpHasAnExample) {
    const auto r = run_cli({"report", "--help"});
    EXPECT_EQ(r.rc, 0);
    EXPECT_NE(r.out.find("edgeq report fp32.json int8.json -o report.html"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace edgeq
