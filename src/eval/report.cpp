#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

namespace edgeq::report {
namespace {

using nlohmann::json;

const char* kNumericMetrics[] = {"accuracy",         "fp32_accuracy",  "bytes", "bits_per_weight",
                                 "throughput_per_s", "peak_rss_bytes", "ppl",   "kld_mean",
                                 "seconds"};

std::string type_name(const json& v) {
    return v.type_name();
}

std::optional<double> num(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
}

std::string esc(const std::string& s) {
    std::string o;
    for (char c : s) {
        switch (c) {
            case '&':
                o += "&amp;";
                break;
            case '<':
                o += "&lt;";
                break;
            case '>':
                o += "&gt;";
                break;
            case '"':
                o += "&quot;";
                break;
            default:
                o += c;
        }
    }
    return o;
}

std::string md_esc(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '|')
            o += "\\|";
        else if (c == '\n')
            o += ' ';
        else
            o += c;
    }
    return o;
}

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

std::string fmt_bytes(double b) {
    if (b >= 1024.0 * 1024.0 * 1024.0) return fmt("%.2f GiB", b / (1024.0 * 1024.0 * 1024.0));
    if (b >= 1024.0 * 1024.0) return fmt("%.2f MiB", b / (1024.0 * 1024.0));
    if (b >= 1024.0) return fmt("%.1f KiB", b / 1024.0);
    return fmt("%.0f B", b);
}

bool is_fp32(const std::string& precision) {
    std::string p;
    for (char c : precision) p += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return p == "fp32" || p == "f32" || p == "float32";
}

// The table's cells of one row, shared by HTML and Markdown.
struct Cells {
    std::string accuracy = "—", of_fp32 = "—", size = "—", bpw = "—", latency = "—", speedup = "—", ppl = "—",
                kld = "—";
};

struct Baseline {
    std::optional<double> accuracy, latency;
};

Baseline baseline(const std::vector<Row>& rows) {
    Baseline b;
    for (const Row& r : rows) {
        if (!is_fp32(r.precision)) continue;
        b.accuracy = r.accuracy;
        b.latency = r.latency_ms;
        break;
    }
    return b;
}

Cells cells(const Row& r, const Baseline& b) {
    Cells c;
    if (r.accuracy) c.accuracy = fmt("%.2f %%", 100.0 * *r.accuracy);
    const std::optional<double> base_acc = b.accuracy ? b.accuracy : r.fp32_accuracy;
    if (r.accuracy && base_acc && *base_acc > 0) c.of_fp32 = fmt("%.1f %%", 100.0 * *r.accuracy / *base_acc);
    if (r.bytes) c.size = fmt_bytes(*r.bytes);
    if (r.bits_per_weight) c.bpw = fmt("%.2f", *r.bits_per_weight);
    if (r.latency_ms) c.latency = fmt("%.3f ms", *r.latency_ms);
    if (r.latency_ms && b.latency && *r.latency_ms > 0) c.speedup = fmt("%.2fx", *b.latency / *r.latency_ms);
    if (r.ppl) c.ppl = fmt("%.4f", *r.ppl);
    if (r.kld_mean) c.kld = fmt("%.6f", *r.kld_mean);
    return c;
}

// 1, 2, 5 x 10^k step giving about n ticks over [lo, hi].
double nice_step(double range, int n) {
    const double raw = range / n;
    const double p = std::pow(10.0, std::floor(std::log10(raw)));
    const double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

struct Point {
    double x, y;
    std::string label;
};

using Formatter = std::string (*)(double);
std::string fmt_pct(double v) {
    return fmt("%.4g %%", 100.0 * v);
}
std::string fmt_plain(double v) {
    return fmt("%.4g", v);
}
std::string fmt_ms(double v) {
    return fmt("%.4g ms", v);
}

const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// Scatter plot: one <circle> per point, the Pareto front as a <polyline>, axes with ticks and labels.
std::string scatter_svg(const std::string& id, const std::string& title, const std::string& xlabel,
                        Formatter fx, const std::string& ylabel, Formatter fy, const std::vector<Point>& pts,
                        bool y_lower_better) {
    const double W = 640, H = 400, ml = 80, mr = 30, mt = 34, mb = 56;
    double x0 = 0, x1 = 0, y0 = 0, y1 = 0;
    for (size_t i = 0; i < pts.size(); ++i) {
        x1 = i ? std::max(x1, pts[i].x) : pts[i].x;
        y0 = i ? std::min(y0, pts[i].y) : pts[i].y;
        y1 = i ? std::max(y1, pts[i].y) : pts[i].y;
    }
    x1 = x1 > 0 ? x1 * 1.08 : 1.0;
    const double ypad = y1 > y0 ? 0.08 * (y1 - y0) : std::max(std::fabs(y0) * 0.05, 1e-3);
    y0 -= ypad, y1 += ypad;
    auto sx = [&](double x) { return ml + (x - x0) / (x1 - x0) * (W - ml - mr); };
    auto sy = [&](double y) { return H - mb - (y - y0) / (y1 - y0) * (H - mt - mb); };
    std::ostringstream s;
    s << "<svg id=\"" << esc(id) << "\" class=\"chart\" width=\"" << W << "\" height=\"" << H
      << "\" viewBox=\"0 0 " << W << ' ' << H << "\" role=\"img\" aria-label=\"" << esc(title) << "\">\n";
    s << "<rect x=\"0\" y=\"0\" width=\"" << W << "\" height=\"" << H << "\" fill=\"#ffffff\"/>\n";
    s << "<text x=\"" << W / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">"
      << esc(title) << "</text>\n";
    // axes, ticks, grid
    s << "<g class=\"axes\" stroke=\"#333\" stroke-width=\"1\">\n";
    s << "<line x1=\"" << ml << "\" y1=\"" << H - mb << "\" x2=\"" << W - mr << "\" y2=\"" << H - mb
      << "\"/>\n";
    s << "<line x1=\"" << ml << "\" y1=\"" << mt << "\" x2=\"" << ml << "\" y2=\"" << H - mb << "\"/>\n";
    s << "</g>\n<g class=\"ticks\" font-size=\"11\" fill=\"#333\">\n";
    const double xs = nice_step(x1 - x0, 5);
    for (double t = std::ceil(x0 / xs) * xs; t <= x1 + 1e-12 * xs; t += xs) {
        const double px = sx(t);
        s << "<line x1=\"" << px << "\" y1=\"" << H - mb << "\" x2=\"" << px << "\" y2=\"" << H - mb + 5
          << "\" stroke=\"#333\"/><line x1=\"" << px << "\" y1=\"" << mt << "\" x2=\"" << px << "\" y2=\""
          << H - mb << "\" stroke=\"#e5e5e5\"/><text x=\"" << px << "\" y=\"" << H - mb + 18
          << "\" text-anchor=\"middle\">" << esc(fx(t)) << "</text>\n";
    }
    const double ys = nice_step(y1 - y0, 5);
    for (double t = std::ceil(y0 / ys) * ys; t <= y1 + 1e-12 * ys; t += ys) {
        const double py = sy(t);
        s << "<line x1=\"" << ml - 5 << "\" y1=\"" << py << "\" x2=\"" << ml << "\" y2=\"" << py
          << "\" stroke=\"#333\"/><line x1=\"" << ml << "\" y1=\"" << py << "\" x2=\"" << W - mr << "\" y2=\""
          << py << "\" stroke=\"#e5e5e5\"/><text x=\"" << ml - 8 << "\" y=\"" << py + 4
          << "\" text-anchor=\"end\">" << esc(fy(t)) << "</text>\n";
    }
    s << "</g>\n";
    s << "<text x=\"" << (ml + W - mr) / 2 << "\" y=\"" << H - 12
      << "\" text-anchor=\"middle\" font-size=\"13\">" << esc(xlabel) << "</text>\n";
    s << "<text x=\"16\" y=\"" << (mt + H - mb) / 2
      << "\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 16 " << (mt + H - mb) / 2
      << ")\">" << esc(ylabel) << "</text>\n";
    // Pareto front
    std::vector<std::pair<double, double>> xy;
    for (const auto& p : pts) xy.emplace_back(p.x, p.y);
    const std::vector<size_t> front = pareto_front(xy, y_lower_better);
    s << "<polyline class=\"pareto-front\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" "
         "stroke-dasharray=\"6 3\" "
         "points=\"";
    for (size_t k = 0; k < front.size(); ++k)
        s << (k ? " " : "") << sx(pts[front[k]].x) << ',' << sy(pts[front[k]].y);
    s << "\"/>\n";
    // points
    for (size_t i = 0; i < pts.size(); ++i) {
        const bool on_front = std::find(front.begin(), front.end(), i) != front.end();
        s << "<circle cx=\"" << sx(pts[i].x) << "\" cy=\"" << sy(pts[i].y) << "\" r=\"6\" fill=\""
          << kColors[i % std::size(kColors)] << "\" stroke=\"" << (on_front ? "#d62728" : "#333")
          << "\" stroke-width=\"" << (on_front ? 2 : 1) << "\"><title>" << esc(pts[i].label) << ": "
          << esc(fx(pts[i].x)) << ", " << esc(fy(pts[i].y)) << "</title></circle>\n";
        const bool right = sx(pts[i].x) > ml + 0.7 * (W - ml - mr);  // label on the left near the right edge
        s << "<text x=\"" << sx(pts[i].x) + (right ? -9 : 9) << "\" y=\"" << sy(pts[i].y) - 7
          << "\" font-size=\"11\"" << (right ? " text-anchor=\"end\"" : "") << ">" << esc(pts[i].label)
          << "</text>\n";
    }
    s << "</svg>\n";
    return s.str();
}

// Horizontal bars: the SQNR (dB) of each layer from `compare`.
std::string layer_bars_svg(const std::string& id, const json& layers) {
    const double W = 760, bar_h = 16, gap = 4, ml = 240, mr = 80, mt = 10;
    double vmax = 0;
    for (const auto& l : layers) vmax = std::max(vmax, num(l, "sqnr_db").value_or(0.0));
    if (vmax <= 0) vmax = 1;
    const double H = mt + static_cast<double>(layers.size()) * (bar_h + gap) + 10;
    std::ostringstream s;
    s << "<svg id=\"" << esc(id) << "\" class=\"layers\" width=\"" << W << "\" height=\"" << H
      << "\" viewBox=\"0 0 " << W << ' ' << H << "\">\n<rect x=\"0\" y=\"0\" width=\"" << W << "\" height=\""
      << H << "\" fill=\"#ffffff\"/>\n";
    std::map<std::string, size_t> colors;
    double y = mt;
    for (const auto& l : layers) {
        const std::string name = l.value("name", std::string("?"));
        const std::string prec =
            l.contains("precision") && l["precision"].is_string() ? l["precision"].get<std::string>() : "";
        const size_t ci = colors.emplace(prec, colors.size()).first->second;
        const std::optional<double> v = num(l, "sqnr_db");
        const bool exact = !v && l.contains("sqnr_db") && l["sqnr_db"].is_null();  // no error: SQNR = +inf
        const double w = v ? std::max(0.0, *v) / vmax * (W - ml - mr) : exact ? W - ml - mr : 0.0;
        s << "<text x=\"" << ml - 6 << "\" y=\"" << y + bar_h - 4
          << "\" text-anchor=\"end\" font-size=\"11\">"
          << esc(name.size() > 38 ? name.substr(0, 36) + "…" : name) << "</text>";
        s << "<rect class=\"bar\" x=\"" << ml << "\" y=\"" << y << "\" width=\"" << w << "\" height=\""
          << bar_h << "\" fill=\"" << kColors[ci % std::size(kColors)] << "\"><title>" << esc(name)
          << (prec.empty() ? "" : " (" + esc(prec) + ")") << ": "
          << (v       ? fmt("%.2f dB", *v)
              : exact ? "exact"
                      : "no SQNR")
          << "</title></rect>";
        s << "<text x=\"" << ml + w + 6 << "\" y=\"" << y + bar_h - 4 << "\" font-size=\"11\">"
          << (v       ? fmt("%.1f dB", *v)
              : exact ? "exact"
                      : "—")
          << (prec.empty() ? "" : " " + esc(prec)) << "</text>\n";
        y += bar_h + gap;
    }
    s << "</svg>\n";
    return s.str();
}

// The quality axis: accuracy (higher is better) when any row has it, else perplexity (lower is better).
struct Quality {
    const char* name;
    bool lower_better;
    Formatter f;
    std::optional<double> Row::*field;
};
Quality quality_of(const std::vector<Row>& rows) {
    for (const Row& r : rows)
        if (r.accuracy) return {"accuracy", false, fmt_pct, &Row::accuracy};
    for (const Row& r : rows)
        if (r.ppl) return {"perplexity", true, fmt_plain, &Row::ppl};
    return {"accuracy", false, fmt_pct, &Row::accuracy};
}

std::string chart_section(const std::vector<Row>& rows, const Quality& q, const char* id, const char* what,
                          const char* xlabel, Formatter fx, std::optional<double> Row::*xf) {
    std::vector<Point> pts;
    std::vector<std::string> missing;
    double xmax = 0;
    for (const Row& r : rows) {
        if ((r.*q.field) && (r.*xf))
            pts.push_back({*(r.*xf), *(r.*q.field), r.label()});
        else
            missing.push_back(r.label());
        if (r.*xf) xmax = std::max(xmax, *(r.*xf));
    }
    std::string xl = xlabel;
    if (xf == &Row::bytes) {  // bytes: ticks at round numbers of KiB / MiB / GiB
        const char* units[] = {"B", "KiB", "MiB", "GiB"};
        int u = 0;
        double div = 1;
        while (u < 3 && xmax >= 1024.0 * div) div *= 1024.0, ++u;
        for (auto& p : pts) p.x /= div;
        xl += std::string(" (") + units[u] + ")";
    }
    std::ostringstream s;
    const std::string title = std::string(q.name) + " vs " + what;
    if (pts.empty()) {
        s << "<p class=\"note\">No result has both " << q.name << " and " << what << ": no " << esc(title)
          << " chart.</p>\n";
        return s.str();
    }
    s << scatter_svg(id, title, xl, fx, q.name, q.f, pts, q.lower_better);
    if (!missing.empty()) {
        s << "<p class=\"note\">Not plotted (no " << q.name << " or " << what << "): ";
        for (size_t i = 0; i < missing.size(); ++i) s << (i ? ", " : "") << esc(missing[i]);
        s << ".</p>\n";
    }
    return s.str();
}

}  // namespace

Status validate_result(const json& j, const std::string& where) {
    if (!j.is_object()) return InvalidArgument(where + ": expected a JSON object, got " + type_name(j));
    auto it = j.find("schema");
    if (it == j.end())
        return InvalidArgument(where +
                               ": no \"schema\" field, not an edgeq result (write one with `edgeq eval|bench|"
                               "quantize|perplexity ... --json`)");
    if (!it->is_string() || it->get<std::string>() != kResultSchema)
        return InvalidArgument(where + ": schema " + it->dump() + " is not \"" + kResultSchema +
                               "\" (docs/results-schema.md)");
    for (const char* k : {"command", "model", "method", "precision"}) {
        auto f = j.find(k);
        if (f == j.end() || !f->is_string())
            return InvalidArgument(where + ": \"" + k + "\" must be a string (" + kResultSchema + ")");
    }
    auto m = j.find("metrics");
    if (m == j.end() || !m->is_object())
        return InvalidArgument(where + ": \"metrics\" must be an object (" + kResultSchema + ")");
    for (const char* k : kNumericMetrics) {
        auto f = m->find(k);
        if (f != m->end() && !f->is_number() && !f->is_null())
            return InvalidArgument(where + ": metrics." + k + " must be a number, got " + type_name(*f));
    }
    if (auto l = m->find("latency_ms"); l != m->end()) {
        if (!l->is_object())
            return InvalidArgument(where + ": metrics.latency_ms must be an object {min, p50, ...}");
        for (const auto& [k, v] : l->items())
            if (!v.is_number())
                return InvalidArgument(where + ": metrics.latency_ms." + k + " must be a number");
    }
    if (auto l = j.find("layers"); l != j.end()) {
        if (!l->is_array()) return InvalidArgument(where + ": \"layers\" must be an array");
        for (size_t i = 0; i < l->size(); ++i) {
            const json& e = (*l)[i];
            if (!e.is_object() || !e.contains("name") || !e["name"].is_string())
                return InvalidArgument(where + ": layers[" + std::to_string(i) + "] needs a string \"name\"");
            if (e.contains("sqnr_db") && !e["sqnr_db"].is_number() && !e["sqnr_db"].is_null())
                return InvalidArgument(where + ": layers[" + std::to_string(i) +
                                       "].sqnr_db must be a number");
        }
    }
    if (auto p = j.find("precision_map"); p != j.end()) {
        if (!p->is_object())
            return InvalidArgument(where + ": \"precision_map\" must be an object {node: precision}");
        for (const auto& [k, v] : p->items())
            if (!v.is_string())
                return InvalidArgument(where + ": precision_map[\"" + k + "\"] must be a string");
    }
    return Status::Ok();
}

Result<std::vector<json>> load_results(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound(path + ": cannot open (no such file or not readable)");
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    std::vector<json> out;
    json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_discarded()) {
        if (doc.is_array()) {
            for (size_t i = 0; i < doc.size(); ++i) {
                EDGEQ_RETURN_IF_ERROR(validate_result(doc[i], path + " [" + std::to_string(i) + "]"));
                out.push_back(doc[i]);
            }
        } else {
            EDGEQ_RETURN_IF_ERROR(validate_result(doc, path));
            out.push_back(std::move(doc));
        }
    } else {
        // JSON Lines
        std::istringstream lines(text);
        std::string line;
        for (int n = 1; std::getline(lines, line); ++n) {
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            try {
                json j = json::parse(line);
                EDGEQ_RETURN_IF_ERROR(validate_result(j, path + " line " + std::to_string(n)));
                out.push_back(std::move(j));
            } catch (const json::parse_error& e) {
                std::string what = e.what();
                std::replace(what.begin(), what.end(), '\n', ' ');
                return InvalidArgument(path + ": not JSON (line " + std::to_string(n) + ": " + what + ")");
            }
        }
    }
    if (out.empty()) return InvalidArgument(path + ": no results in it (empty file)");
    return out;
}

std::vector<Row> merge_rows(const std::vector<json>& results) {
    std::vector<Row> rows;
    for (const json& j : results) {
        const std::string method = j.value("method", std::string()),
                          precision = j.value("precision", std::string());
        auto it = std::find_if(rows.begin(), rows.end(),
                               [&](const Row& r) { return r.method == method && r.precision == precision; });
        if (it == rows.end()) {
            rows.push_back({});
            it = rows.end() - 1;
            it->method = method;
            it->precision = precision;
        }
        Row& r = *it;
        auto add_unique = [](std::vector<std::string>& v, const std::string& s) {
            if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
        };
        add_unique(r.models, j.value("model", std::string()));
        add_unique(r.commands, j.value("command", std::string()));
        const json& m = j["metrics"];
        // later results fill what earlier ones lack; the first value of a metric wins (quantize's exact
        // bits_per_weight before eval's estimate from the weights)
        auto take = [&](std::optional<double>& f, const char* k) {
            if (auto v = num(m, k); v && !f) f = v;
        };
        take(r.accuracy, "accuracy");
        take(r.fp32_accuracy, "fp32_accuracy");
        take(r.bytes, "bytes");
        take(r.bits_per_weight, "bits_per_weight");
        take(r.throughput_per_s, "throughput_per_s");
        take(r.ppl, "ppl");
        take(r.kld_mean, "kld_mean");
        if (auto l = m.find("latency_ms"); l != m.end() && l->is_object()) {
            if (r.latency_ms) {
            } else if (auto v = num(*l, "p50")) {
                r.latency_ms = v;
            } else if (auto mean = num(*l, "mean")) {
                r.latency_ms = mean;
            }
        }
        if (j.contains("layers") && r.layers.is_null()) r.layers = j["layers"];
        if (j.contains("precision_map") && r.precision_map.is_null()) r.precision_map = j["precision_map"];
    }
    std::stable_partition(rows.begin(), rows.end(), [](const Row& r) { return is_fp32(r.precision); });
    return rows;
}

std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& pts, bool y_lower_better) {
    auto better_or_eq = [&](double a, double b) { return y_lower_better ? a <= b : a >= b; };
    std::vector<size_t> front;
    for (size_t i = 0; i < pts.size(); ++i) {
        bool dominated = false;
        for (size_t k = 0; k < pts.size() && !dominated; ++k) {
            if (k == i) continue;
            const bool no_worse = pts[k].first <= pts[i].first && better_or_eq(pts[k].second, pts[i].second);
            const bool better = pts[k].first < pts[i].first || pts[k].second != pts[i].second;
            // identical points: keep the first
            dominated = no_worse && (better || k < i);
        }
        if (!dominated) front.push_back(i);
    }
    std::sort(front.begin(), front.end(), [&](size_t a, size_t b) { return pts[a].first < pts[b].first; });
    return front;
}

std::string render_html(const std::vector<Row>& rows, const ReportOptions& o) {
    const Baseline b = baseline(rows);
    const Quality q = quality_of(rows);
    bool any_ppl = false, any_kld = false;
    for (const Row& r : rows) any_ppl |= r.ppl.has_value(), any_kld |= r.kld_mean.has_value();
    std::ostringstream s;
    s << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << esc(o.title)
      << "</title>\n<style>\n"
         "body{font-family:sans-serif;margin:24px;color:#222;background:#fff}\n"
         "table{border-collapse:collapse;margin:8px 0 20px}\n"
         "th,td{border:1px solid #bbb;padding:4px 10px;text-align:right;white-space:nowrap}\n"
         "th{background:#eee}td.l,th.l{text-align:left}\n"
         "td.m{white-space:normal;word-break:break-all;text-align:left}\ntr.fp32{font-weight:bold}\n.note{"
         "color:#666;font-size:90%}\n"
         "svg.chart{margin:8px 12px 8px 0;border:1px solid #ddd}\n"
         "</style>\n</head>\n<body>\n<h1>"
      << esc(o.title) << "</h1>\n";
    s << "<p class=\"note\">" << rows.size() << " result" << (rows.size() == 1 ? "" : "s")
      << " (one row per method &times; precision). Baseline for % of FP32 and speedup: the fp32 row"
      << (b.accuracy || b.latency ? "" : " (none here)")
      << ". Latency: p50 per inference (per token for GGUF).</p>\n";
    s << "<h2>Results</h2>\n<table id=\"results\">\n<tr><th class=\"l\">Method</th><th "
         "class=\"l\">Precision</th>"
         "<th>Accuracy</th><th>% of FP32</th><th>Size</th><th>Bits/weight</th><th>Latency "
         "p50</th><th>Speedup</th>";
    if (any_ppl) s << "<th>PPL</th>";
    if (any_kld) s << "<th>KLD</th>";
    s << "<th class=\"l\">Model</th></tr>\n";
    for (const Row& r : rows) {
        const Cells c = cells(r, b);
        s << "<tr" << (is_fp32(r.precision) ? " class=\"fp32\"" : "") << "><td class=\"l\">" << esc(r.method)
          << "</td><td class=\"l\">" << esc(r.precision) << "</td><td>" << c.accuracy << "</td><td>"
          << c.of_fp32 << "</td><td>" << c.size << "</td><td>" << c.bpw << "</td><td>" << c.latency
          << "</td><td>" << c.speedup << "</td>";
        if (any_ppl) s << "<td>" << c.ppl << "</td>";
        if (any_kld) s << "<td>" << c.kld << "</td>";
        s << "<td class=\"m\">";
        for (size_t i = 0; i < r.models.size(); ++i) s << (i ? "<br>" : "") << esc(r.models[i]);
        s << "</td></tr>\n";
    }
    s << "</table>\n<h2>Pareto charts</h2>\n<p class=\"note\">One point per result; the dashed line joins "
         "the "
         "results no other result beats on both axes.</p>\n";
    s << chart_section(rows, q, "pareto-size", "size", "model size", fmt_plain, &Row::bytes);
    s << chart_section(rows, q, "pareto-latency", "latency", "latency p50", fmt_ms, &Row::latency_ms);
    bool layers_header = false;
    for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        if (!r.layers.is_array() || r.layers.empty()) continue;
        if (!layers_header) s << "<h2>Per-layer error (SQNR, higher is better)</h2>\n";
        layers_header = true;
        s << "<h3>" << esc(r.label()) << "</h3>\n" << layer_bars_svg("layers-" + std::to_string(i), r.layers);
    }
    bool map_header = false;
    for (const Row& r : rows) {
        if (!r.precision_map.is_object() || r.precision_map.empty()) continue;
        if (!map_header) s << "<h2>Per-layer precision map</h2>\n";
        map_header = true;
        std::map<std::string, size_t> colors, counts;
        for (const auto& [k, v] : r.precision_map.items()) {
            colors.emplace(v.get<std::string>(), colors.size());
            ++counts[v.get<std::string>()];
        }
        s << "<h3>" << esc(r.label()) << "</h3>\n<p>";
        for (const auto& [p, n] : counts)
            s << "<span style=\"background:" << kColors[colors[p] % std::size(kColors)]
              << ";color:#fff;padding:2px 6px;margin-right:6px\">" << esc(p) << ": " << n << "</span>";
        s << "</p>\n<table class=\"precision-map\">\n<tr><th class=\"l\">Node</th><th "
             "class=\"l\">Precision</th></tr>\n";
        for (const auto& [k, v] : r.precision_map.items()) {
            const std::string p = v.get<std::string>();
            s << "<tr><td class=\"l\">" << esc(k)
              << "</td><td class=\"l\" style=\"background:" << kColors[colors[p] % std::size(kColors)]
              << ";color:#fff\">" << esc(p) << "</td></tr>\n";
        }
        s << "</table>\n";
    }
    s << "</body>\n</html>\n";
    return s.str();
}

std::string render_markdown(const std::vector<Row>& rows, const ReportOptions& o) {
    const Baseline b = baseline(rows);
    bool any_ppl = false, any_kld = false;
    for (const Row& r : rows) any_ppl |= r.ppl.has_value(), any_kld |= r.kld_mean.has_value();
    std::ostringstream s;
    s << "# " << md_esc(o.title) << "\n\n";
    s << "| Method | Precision | Accuracy | % of FP32 | Size | Bits/weight | Latency p50 | Speedup |"
      << (any_ppl ? " PPL |" : "") << (any_kld ? " KLD |" : "") << " Model |\n";
    s << "|---|---|---:|---:|---:|---:|---:|---:|" << (any_ppl ? "---:|" : "") << (any_kld ? "---:|" : "")
      << "---|\n";
    for (const Row& r : rows) {
        const Cells c = cells(r, b);
        std::string models;
        for (size_t i = 0; i < r.models.size(); ++i) models += (i ? ", " : "") + r.models[i];
        s << "| " << md_esc(r.method) << " | " << md_esc(r.precision) << " | " << c.accuracy << " | "
          << c.of_fp32 << " | " << c.size << " | " << c.bpw << " | " << c.latency << " | " << c.speedup
          << " |" << (any_ppl ? " " + c.ppl + " |" : "") << (any_kld ? " " + c.kld + " |" : "") << " "
          << md_esc(models) << " |\n";
    }
    for (const Row& r : rows) {
        if (!r.layers.is_array() || r.layers.empty()) continue;
        s << "\n## Per-layer error: " << md_esc(r.label())
          << "\n\n| Layer | Precision | SQNR (dB) |\n|---|---|---:|\n";
        for (const auto& l : r.layers) {
            const auto v = num(l, "sqnr_db");
            s << "| " << md_esc(l.value("name", std::string("?"))) << " | "
              << md_esc(l.contains("precision") && l["precision"].is_string()
                            ? l["precision"].get<std::string>()
                            : "")
              << " | "
              << (v                                                 ? fmt("%.2f", *v)
                  : l.contains("sqnr_db") && l["sqnr_db"].is_null() ? "exact"
                                                                    : "—")
              << " |\n";
        }
    }
    for (const Row& r : rows) {
        if (!r.precision_map.is_object() || r.precision_map.empty()) continue;
        s << "\n## Precision map: " << md_esc(r.label()) << "\n\n| Node | Precision |\n|---|---|\n";
        for (const auto& [k, v] : r.precision_map.items())
            s << "| " << md_esc(k) << " | " << md_esc(v.get<std::string>()) << " |\n";
    }
    return s.str();
}

}  // namespace edgeq::report
