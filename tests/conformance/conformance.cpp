// ONNX backend conformance runner: every test folder (model.onnx + test_data_set_N/{input,output}_K.pb) under
// the given suite roots runs through onnxio::load_model + runtime::run_reference and is compared with the
// outputs ONNX recorded.
//
//   test_conformance [--filter SUBSTR] [--shard K/N] [--list-skipped] [--ops-md FILE] [--timeout S] [-j N]
//                    [--no-fork] [-v] DIR...
//
// DIR is a suite root (its sub-folders holding model.onnx are tests) or one test folder; a DIR starting with
// "@shared/" is taken relative to $EDGEQ_SHARED (default: ../shared beside the repository). Without DIRs:
// Debian's libonnx-testdata suites (node, pytorch-converted, pytorch-operator, simple) and
// $EDGEQ_SHARED/assets/onnx_node_tests/onnx-git-quant-subset.
//
// --shard K/N runs every N-th test starting with the K-th (0-based) of the discovered, sorted list, so that ctest
// can run the suite as N tests side by side (CMakeLists.txt registers onnx_conformance_K for K < 4).
// Verdicts: PASS; FAIL (load/run error, wrong dtype/shape/values, crash, timeout); SKIP (an op the reference
// executor lacks, or an element/value type edgeq cannot hold — the reason is listed). Each test runs in a
// forked child with a timeout, so a crashing op is a failed test, not a dead run.
// Tolerance: floats |got - exp| <= 1e-4 + 1e-3 * |exp| (NaN == NaN, inf == same-sign inf); ints/bool exact.
// The last line is "N passed, N failed, N skipped"; the exit status is 1 iff something failed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "formats/onnx/onnx_import.h"
#include "runtime/ref/executor.h"
#include "runtime/ref/op.h"

namespace fs = std::filesystem;
using namespace edgeq;

namespace {

constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-4;

enum class Verdict { Pass, Fail, Skip };

struct TestCase {
    std::string suite;  // basename of the suite root
    std::string name;   // test folder name
    fs::path dir;
};

struct Outcome {
    Verdict verdict = Verdict::Fail;
    std::string message;
    std::set<std::string> ops;
};

// ---------------------------------------------------------------------------------------------------------
// One test, in-process (the child runs this).

void collect_ops(const graph::Graph& g, std::set<std::string>& out) {
    for (const auto& n : g.nodes) {
        out.insert((n.domain.empty() ? "" : n.domain + ".") + n.op_type);
        for (const auto& [k, a] : n.attrs) {
            if (a.g) collect_ops(*a.g, out);
            for (const auto& sg : a.graphs) collect_ops(*sg, out);
        }
    }
}

// Sorted by the number after the prefix: input_2 before input_10.
std::vector<fs::path> numbered(const fs::path& dir, const std::string& prefix, const std::string& suffix) {
    std::vector<std::pair<long, fs::path>> v;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string n = e.path().filename().string();
        if (n.size() <= prefix.size() + suffix.size() || n.rfind(prefix, 0) != 0) continue;
        if (n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
        const std::string num = n.substr(prefix.size(), n.size() - prefix.size() - suffix.size());
        if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos) continue;
        v.emplace_back(std::stol(num), e.path());
    }
    std::sort(v.begin(), v.end());
    std::vector<fs::path> out;
    for (auto& [k, p] : v) out.push_back(p);
    return out;
}

std::string fmt_double(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

bool is_float(DType t) { return t == DType::F32 || t == DType::F64 || t == DType::F16 || t == DType::BF16; }

std::vector<double> as_double(const Tensor& t) {
    std::vector<double> out;
    if (t.dtype() == DType::F64) {
        const double* p = t.data<double>();
        out.assign(p, p + t.numel());
    } else {
        for (float f : t.to_f32()) out.push_back(f);
    }
    return out;
}

// "" when equal, else a description of the first difference.
std::string compare(const Tensor& exp, const Tensor& got) {
    if (exp.dtype() != got.dtype()) {
        return std::string("dtype: expected ") + dtype_name(exp.dtype()) + ", got " + dtype_name(got.dtype());
    }
    if (exp.shape() != got.shape()) return "shape: expected " + shape_str(exp.shape()) + ", got " + shape_str(got.shape());
    const int64_t n = exp.numel();
    int64_t bad = 0, first = -1;
    std::string e_s, g_s;
    if (is_float(exp.dtype())) {
        const auto e = as_double(exp), g = as_double(got);
        double worst = 0;
        for (int64_t i = 0; i < n; ++i) {
            const double a = g[static_cast<size_t>(i)], b = e[static_cast<size_t>(i)];
            bool ok;
            if (std::isnan(b)) ok = std::isnan(a);
            else if (std::isinf(b)) ok = a == b;
            else ok = std::isfinite(a) && std::fabs(a - b) <= kAtol + kRtol * std::fabs(b);
            if (!ok) {
                if (first < 0) {
                    first = i;
                    e_s = fmt_double(b);
                    g_s = fmt_double(a);
                }
                ++bad;
                if (std::isfinite(a) && std::isfinite(b)) worst = std::max(worst, std::fabs(a - b));
            }
        }
        if (bad) {
            return "first bad index " + std::to_string(first) + " of " + std::to_string(n) + ": expected " + e_s +
                   ", got " + g_s + " (" + std::to_string(bad) + " mismatches, max abs err " + fmt_double(worst) + ")";
        }
        return "";
    }
    const auto e = exp.to_i64(), g = got.to_i64();
    for (int64_t i = 0; i < n; ++i) {
        if (e[static_cast<size_t>(i)] != g[static_cast<size_t>(i)]) {
            if (first < 0) {
                first = i;
                e_s = std::to_string(e[static_cast<size_t>(i)]);
                g_s = std::to_string(g[static_cast<size_t>(i)]);
            }
            ++bad;
        }
    }
    if (bad) {
        return "first bad index " + std::to_string(first) + " of " + std::to_string(n) + ": expected " + e_s +
               ", got " + g_s + " (" + std::to_string(bad) + " mismatches)";
    }
    return "";
}

Tensor as_bf16(const Tensor& u16) { return Tensor::from_bytes(DType::BF16, u16.shape(), u16.bytes()); }

Outcome skip(std::string m) { return {Verdict::Skip, std::move(m), {}}; }
Outcome fail(std::string m) { return {Verdict::Fail, std::move(m), {}}; }

// report_ops: called as soon as the op list is known (before running), so a crash still attributes it.
template <typename ReportOps>
Outcome run_test(const TestCase& tc, ReportOps&& report_ops) {
    auto loaded = onnxio::load_model((tc.dir / "model.onnx").string());
    if (!loaded.ok()) {
        if (loaded.status().code() == StatusCode::kUnsupported) return skip("load: " + loaded.status().message());
        return fail("load: " + loaded.status().message());
    }
    const graph::Model& model = loaded.value();
    std::set<std::string> ops;
    collect_ops(model.graph, ops);
    report_ops(ops);
    auto with_ops = [&](Outcome o) {
        o.ops = ops;
        return o;
    };

    const auto missing = runtime::unsupported_ops(model);
    if (!missing.empty()) {
        std::string m = "unsupported ops:";
        for (const auto& s : missing) m += " " + s;
        return with_ops(skip(m));
    }
    auto type_check = [](const std::vector<graph::ValueInfo>& vs, const char* what) -> std::string {
        for (const auto& v : vs) {
            if (v.dtype) continue;
            if (v.onnx_elem_type == 0) return std::string(what) + " '" + v.name + "' is not a tensor (sequence/map/optional)";
            return std::string(what) + " '" + v.name + "' has element type " + onnxio::onnx_type_name(v.onnx_elem_type);
        }
        return "";
    };
    if (auto m = type_check(model.graph.inputs, "input"); !m.empty()) return with_ops(skip(m));
    if (auto m = type_check(model.graph.outputs, "output"); !m.empty()) return with_ops(skip(m));

    const auto sets = numbered(tc.dir, "test_data_set_", "");
    if (sets.empty()) return with_ops(fail("no test_data_set_N folders"));
    std::set<std::string> input_names, init_names;
    for (const auto& v : model.graph.inputs) input_names.insert(v.name);
    for (const auto& [k, t] : model.graph.initializers) init_names.insert(k);

    for (const auto& set : sets) {
        const std::string sname = set.filename().string();
        const auto in_files = numbered(set, "input_", ".pb");
        const auto out_files = numbered(set, "output_", ".pb");
        std::vector<std::pair<std::string, Tensor>> ins;
        bool by_name = true;
        for (const auto& f : in_files) {
            std::string name;
            auto t = onnxio::load_tensor_pb(f.string(), &name);
            if (!t.ok()) {
                if (t.status().code() == StatusCode::kUnsupported) return with_ops(skip(t.status().message()));
                return with_ops(fail(sname + ": " + t.status().message()));
            }
            if (name.empty() || (!input_names.count(name) && !init_names.count(name))) by_name = false;
            ins.emplace_back(name, std::move(t).value());
        }
        std::map<std::string, Tensor> feed;
        if (by_name) {
            for (auto& [n, t] : ins) feed[n] = t;
        } else {
            if (ins.size() > model.graph.inputs.size()) {
                return with_ops(fail(sname + ": " + std::to_string(ins.size()) + " input files, model has " +
                                     std::to_string(model.graph.inputs.size()) + " inputs"));
            }
            for (size_t i = 0; i < ins.size(); ++i) feed[model.graph.inputs[i].name] = ins[i].second;
        }
        // ONNX 1.12 stores BFLOAT16 test data as UINT16 bit patterns (NumPy has no bfloat16): same bits.
        for (auto& [n, t] : feed) {
            const graph::ValueInfo* vi = model.graph.find_value_info(n);
            if (vi && vi->dtype == DType::BF16 && t.dtype() == DType::U16) t = as_bf16(t);
        }
        // Some ONNX 1.12 tests feed data that contradicts the model's declared input shape (castlike 'like'):
        // that is a broken test, not an edgeq failure.
        for (const auto& [n, t] : feed) {
            const graph::ValueInfo* vi = nullptr;
            for (const auto& v : model.graph.inputs)
                if (v.name == n) vi = &v;
            if (!vi || !vi->has_shape) continue;
            bool ok = vi->shape.size() == t.shape().size();
            for (size_t d = 0; ok && d < vi->shape.size(); ++d)
                ok = vi->shape[d].value < 0 || vi->shape[d].value == t.shape()[d];
            if (!ok) {
                return with_ops(skip("test data for input '" + n + "' has shape " + shape_str(t.shape()) +
                                     ", contradicting the model's declared shape (broken test)"));
            }
        }
        auto res = runtime::run_reference(model, feed);
        if (!res.ok()) {
            if (res.status().code() == StatusCode::kUnsupported) return with_ops(skip("run: " + res.status().message()));
            return with_ops(fail(sname + ": run: " + res.status().message()));
        }
        const auto& got = res.value();
        if (out_files.size() != model.graph.outputs.size()) {
            return with_ops(fail(sname + ": " + std::to_string(out_files.size()) + " output files, model has " +
                                 std::to_string(model.graph.outputs.size()) + " outputs"));
        }
        for (size_t i = 0; i < out_files.size(); ++i) {
            std::string name;
            auto e = onnxio::load_tensor_pb(out_files[i].string(), &name);
            if (!e.ok()) {
                if (e.status().code() == StatusCode::kUnsupported) return with_ops(skip(e.status().message()));
                return with_ops(fail(sname + ": " + e.status().message()));
            }
            const std::string oname = model.graph.outputs[i].name;
            auto it = got.find(oname);
            if (it == got.end()) return with_ops(fail(sname + ": output '" + oname + "' missing from the results"));
            Tensor expected = e.value();
            if (model.graph.outputs[i].dtype == DType::BF16 && expected.dtype() == DType::U16) expected = as_bf16(expected);
            const std::string diff = compare(expected, it->second);
            if (!diff.empty()) return with_ops(fail(sname + ": output '" + oname + "': " + diff));
        }
    }
    return with_ops({Verdict::Pass, "", {}});
}

// ---------------------------------------------------------------------------------------------------------
// Child process protocol, over a pipe: "O <op>\n" lines, then "R <P|F|S>\n", then the message.

bool write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        const ssize_t w = ::write(fd, s.data() + off, s.size() - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        off += static_cast<size_t>(w);
    }
    return true;
}

[[noreturn]] void child_main(const TestCase& tc, int fd) {
    Outcome o;
    try {
        o = run_test(tc, [&](const std::set<std::string>& ops) {
            std::string s;
            for (const auto& op : ops) s += "O " + op + "\n";
            write_all(fd, s);
        });
    } catch (const std::exception& e) {
        o = fail(std::string("exception: ") + e.what());
    } catch (...) {
        o = fail("unknown exception");
    }
    const char v = o.verdict == Verdict::Pass ? 'P' : o.verdict == Verdict::Fail ? 'F' : 'S';
    write_all(fd, std::string("R ") + v + "\n" + o.message);
    ::close(fd);
    std::_Exit(0);
}

Outcome parse_child(const std::string& buf, bool* complete) {
    Outcome o;
    *complete = false;
    size_t pos = 0;
    while (pos < buf.size()) {
        size_t nl = buf.find('\n', pos);
        if (nl == std::string::npos) break;
        const std::string line = buf.substr(pos, nl - pos);
        if (line.rfind("O ", 0) == 0) {
            o.ops.insert(line.substr(2));
        } else if (line.rfind("R ", 0) == 0 && line.size() >= 3) {
            o.verdict = line[2] == 'P' ? Verdict::Pass : line[2] == 'S' ? Verdict::Skip : Verdict::Fail;
            o.message = buf.substr(nl + 1);
            *complete = true;
            return o;
        }
        pos = nl + 1;
    }
    return o;
}

struct Running {
    size_t index;
    pid_t pid;
    int fd;       // results
    int err_fd;   // child's stderr
    std::string buf, err;
    std::chrono::steady_clock::time_point start;
    bool killed = false;
};

std::string tail_lines(const std::string& s, size_t max_chars) {
    if (s.size() <= max_chars) return s;
    return "..." + s.substr(s.size() - max_chars);
}

// ---------------------------------------------------------------------------------------------------------

std::vector<TestCase> discover(const std::vector<std::string>& roots, const std::string& filter) {
    std::vector<TestCase> tests;
    for (const auto& r : roots) {
        const fs::path root(r);
        std::error_code ec;
        if (!fs::is_directory(root, ec)) {
            std::fprintf(stderr, "test_conformance: suite folder '%s' not found (skipped)\n", r.c_str());
            continue;
        }
        if (fs::exists(root / "model.onnx")) {
            TestCase tc{root.parent_path().filename().string(), root.filename().string(), root};
            if (filter.empty() || (tc.suite + "/" + tc.name).find(filter) != std::string::npos) tests.push_back(tc);
            continue;
        }
        std::vector<fs::path> dirs;
        for (const auto& e : fs::directory_iterator(root, ec))
            if (e.is_directory() && fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
        std::sort(dirs.begin(), dirs.end());
        std::string suite = root.filename().string();
        if (suite.empty()) suite = root.parent_path().filename().string();
        for (const auto& d : dirs) {
            TestCase tc{suite, d.filename().string(), d};
            if (filter.empty() || (tc.suite + "/" + tc.name).find(filter) != std::string::npos) tests.push_back(tc);
        }
    }
    return tests;
}

std::string shared_dir() {
    if (const char* e = std::getenv("EDGEQ_SHARED"); e && *e) return e;
#ifdef EDGEQ_SHARED_DEFAULT
    return EDGEQ_SHARED_DEFAULT;
#else
    return "../shared";
#endif
}

void usage() {
    std::fprintf(stderr,
                 "usage: test_conformance [--filter SUBSTR] [--shard K/N] [--list-skipped] [--ops-md FILE] [--timeout S]\n"
                 "                        [-j N] [--no-fork] [-v] [DIR...]\n");
}

struct OpStats {
    int passed = 0, failed = 0, skipped = 0;
    std::set<std::string> suites;
};

bool write_ops_md(const std::string& path, const std::map<std::string, OpStats>& ops, int passed, int failed,
                  int skipped, const std::vector<std::string>& roots,
                  const std::vector<std::pair<std::string, std::string>>& other_skips) {
    std::ostringstream md;
    std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    int impl = 0;
    for (const auto& [op, s] : ops) {
        const auto dot = op.rfind('.');
        const std::string domain = dot == std::string::npos ? "" : op.substr(0, dot);
        const std::string type = dot == std::string::npos ? op : op.substr(dot + 1);
        if (runtime::find_ref_op(domain, type)) ++impl;
    }
    md << "# Operator support (reference executor)\n\n"
       << "Generated by `test_conformance --ops-md` on " << date << " (tests/conformance/conformance.cpp).\n"
       << "Suites:";
    for (const auto& r : roots) md << " `" << r << "`";
    md << "\n\nTotal: " << passed << " passed, " << failed << " failed, " << skipped << " skipped. "
       << impl << " of " << ops.size() << " op types seen in the suites are implemented.\n\n"
       << "A test counts for every op type its model uses (subgraphs included); a test is skipped when one of its\n"
       << "ops is missing or it uses an element/value type edgeq cannot hold (sequence, string, float8, ...).\n\n"
       << "| op | implemented (family) | passed | failed | skipped | suites |\n|---|---|---:|---:|---:|---|\n";
    for (const auto& [op, s] : ops) {
        const auto dot = op.rfind('.');
        const std::string domain = dot == std::string::npos ? "" : op.substr(0, dot);
        const std::string type = dot == std::string::npos ? op : op.substr(dot + 1);
        const OpStats& st = s;
        std::string suites;
        for (const auto& x : st.suites) suites += (suites.empty() ? "" : ", ") + x;
        const runtime::OpRow* row = runtime::find_ref_op(domain, type);
        md << "| " << op << " | " << (row ? std::string("yes (") + row->family + ")" : std::string("no")) << " | "
           << st.passed << " | "
           << st.failed << " | " << st.skipped << " | " << suites << " |\n";
    }
    std::string unseen;
    for (const auto& r : runtime::ref_ops()) {
        const std::string key = (std::string(r.domain).empty() ? "" : std::string(r.domain) + ".") + r.op_type;
        if (!ops.count(key)) unseen += (unseen.empty() ? "" : ", ") + key;
    }
    if (!unseen.empty()) md << "\nImplemented but used by no test in these suites: " << unseen << ".\n";
    if (!other_skips.empty()) {
        md << "\n## Tests skipped although every op is implemented\n\n| test | reason |\n|---|---|\n";
        for (const auto& [t, why] : other_skips) {
            std::string w = why;
            for (auto& c : w)
                if (c == '|' || c == '\n') c = ' ';
            md << "| " << t << " | " << w << " |\n";
        }
    }
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) return false;
        f << md.str();
        if (!f.good()) return false;
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    return !ec;
}

}  // namespace

int main(int argc, char** argv) {
    std::string filter, ops_md;
    bool list_skipped = false, no_fork = false, verbose = false;
    int timeout_s = 120, jobs = 1, shard = 0, shards = 1;
    std::vector<std::string> roots, root_labels;  // labels: as shown in docs (no machine-specific paths)
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                usage();
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--filter") filter = next();
        else if (a == "--shard") {
            const std::string v = next();
            const size_t slash = v.find('/');
            shard = std::atoi(v.substr(0, slash).c_str());
            shards = slash == std::string::npos ? 0 : std::atoi(v.substr(slash + 1).c_str());
            if (shards < 1 || shard < 0 || shard >= shards) {
                std::fprintf(stderr, "test_conformance: --shard wants K/N with 0 <= K < N, got '%s'\n", v.c_str());
                return 2;
            }
        } else if (a == "--list-skipped") list_skipped = true;
        else if (a == "--ops-md") ops_md = next();
        else if (a == "--timeout") timeout_s = std::max(1, std::atoi(next().c_str()));
        else if (a == "-j") jobs = std::max(1, std::atoi(next().c_str()));
        else if (a == "--no-fork") no_fork = true;
        else if (a == "-v" || a == "--verbose") verbose = true;
        else if (a == "-h" || a == "--help") {
            usage();
            return 0;
        } else if (!a.empty() && a[0] == '-') {
            usage();
            return 2;
        } else if (a.rfind("@shared/", 0) == 0) {
            roots.push_back(shared_dir() + a.substr(7));  // resolved at run time: honours $EDGEQ_SHARED
            root_labels.push_back("$EDGEQ_SHARED" + a.substr(7));
        } else {
            roots.push_back(a);
            root_labels.push_back(a);
        }
    }
    if (roots.empty()) {
        for (const char* s : {"node", "pytorch-converted", "pytorch-operator", "simple"})
            roots.push_back(std::string("/usr/share/libonnx-testdata/data/") + s);
        roots.push_back(shared_dir() + "/assets/onnx_node_tests/onnx-git-quant-subset");
        root_labels = roots;
        root_labels.back() = "$EDGEQ_SHARED/assets/onnx_node_tests/onnx-git-quant-subset";
    }
    if (!ops_md.empty() && shards > 1) {
        std::fprintf(stderr, "test_conformance: --ops-md needs the whole suite, not a --shard\n");
        return 2;
    }
    std::vector<TestCase> tests;
    {
        auto all = discover(roots, filter);
        for (size_t i = 0; i < all.size(); ++i)
            if (static_cast<int>(i % static_cast<size_t>(shards)) == shard) tests.push_back(std::move(all[i]));
    }
    std::vector<Outcome> outcomes(tests.size());
    ::signal(SIGPIPE, SIG_IGN);

    auto report = [&](size_t i) {
        const Outcome& o = outcomes[i];
        const std::string id = tests[i].suite + "/" + tests[i].name;
        if (o.verdict == Verdict::Fail) std::printf("FAIL %s: %s\n", id.c_str(), o.message.c_str());
        else if (verbose) std::printf("%s %s%s%s\n", o.verdict == Verdict::Pass ? "PASS" : "SKIP", id.c_str(),
                                      o.message.empty() ? "" : ": ", o.message.c_str());
        std::fflush(stdout);
    };

    if (no_fork) {
        for (size_t i = 0; i < tests.size(); ++i) {
            try {
                outcomes[i] = run_test(tests[i], [](const std::set<std::string>&) {});
            } catch (const std::exception& e) {
                outcomes[i] = fail(std::string("exception: ") + e.what());
            }
            report(i);
        }
    } else {
        std::vector<Running> running;
        size_t next_test = 0;
        while (next_test < tests.size() || !running.empty()) {
            while (next_test < tests.size() && static_cast<int>(running.size()) < jobs) {
                int p[2], pe[2];
                if (::pipe(p) != 0 || ::pipe(pe) != 0) {
                    std::perror("pipe");
                    return 2;
                }
                std::fflush(stdout);
                std::fflush(stderr);
                const pid_t pid = ::fork();
                if (pid < 0) {
                    std::perror("fork");
                    return 2;
                }
                if (pid == 0) {
                    ::close(p[0]);
                    ::close(pe[0]);
                    ::dup2(pe[1], 2);
                    ::close(pe[1]);
                    const int devnull = ::open("/dev/null", O_WRONLY);
                    if (devnull >= 0) ::dup2(devnull, 1);
                    for (auto& r : running) {
                        ::close(r.fd);
                        ::close(r.err_fd);
                    }
                    child_main(tests[next_test], p[1]);
                }
                ::close(p[1]);
                ::close(pe[1]);
                running.push_back({next_test, pid, p[0], pe[0], "", "", std::chrono::steady_clock::now()});
                ++next_test;
            }
            std::vector<pollfd> pfds;
            for (auto& r : running) {
                pfds.push_back({r.fd, POLLIN, 0});
                pfds.push_back({r.err_fd, POLLIN, 0});
            }
            ::poll(pfds.data(), pfds.size(), 200);
            for (size_t k = 0; k < running.size();) {
                Running& r = running[k];
                char buf[65536];
                bool eof = false;
                for (int which = 0; which < 2; ++which) {
                    const int fd = which == 0 ? r.fd : r.err_fd;
                    const pollfd& pf = pfds[2 * k + static_cast<size_t>(which)];
                    if (!(pf.revents & (POLLIN | POLLHUP | POLLERR))) continue;
                    const ssize_t n = ::read(fd, buf, sizeof buf);
                    if (n > 0) {
                        (which == 0 ? r.buf : r.err).append(buf, static_cast<size_t>(n));
                        if (r.err.size() > 1 << 20) r.err.erase(0, r.err.size() - (1 << 16));
                    } else if (which == 0 && n == 0) {
                        eof = true;
                    }
                }
                const double elapsed =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - r.start).count();
                if (!eof && elapsed > timeout_s && !r.killed) {
                    ::kill(r.pid, SIGKILL);
                    r.killed = true;
                }
                if (!eof && !r.killed) {
                    ++k;
                    continue;
                }
                int st = 0;
                ::waitpid(r.pid, &st, 0);
                // drain what remains of stderr
                for (;;) {
                    const ssize_t n = ::read(r.err_fd, buf, sizeof buf);
                    if (n <= 0) break;
                    r.err.append(buf, static_cast<size_t>(n));
                }
                ::close(r.fd);
                ::close(r.err_fd);
                bool complete = false;
                Outcome o = parse_child(r.buf, &complete);
                if (r.killed) {
                    o.verdict = Verdict::Fail;
                    o.message = "timed out after " + std::to_string(timeout_s) + " s";
                } else if (!complete || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                    o.verdict = Verdict::Fail;
                    o.message = WIFSIGNALED(st) ? std::string("crashed: ") + strsignal(WTERMSIG(st))
                                                : "child exited without a result (status " + std::to_string(st) + ")";
                    if (!r.err.empty()) o.message += "; stderr: " + tail_lines(r.err, 600);
                }
                outcomes[r.index] = o;
                report(r.index);
                running.erase(running.begin() + static_cast<long>(k));
            }
        }
    }

    // Summary by suite, skip reasons, op matrix.
    std::map<std::string, std::array<int, 3>> by_suite;
    std::map<std::string, int> missing_ops;
    std::map<std::string, OpStats> op_stats;
    int passed = 0, failed = 0, skipped = 0;
    std::vector<std::string> suite_order;
    for (size_t i = 0; i < tests.size(); ++i) {
        const Outcome& o = outcomes[i];
        if (!by_suite.count(tests[i].suite)) suite_order.push_back(tests[i].suite);
        auto& s = by_suite[tests[i].suite];
        const int v = o.verdict == Verdict::Pass ? 0 : o.verdict == Verdict::Fail ? 1 : 2;
        ++s[static_cast<size_t>(v)];
        (v == 0 ? passed : v == 1 ? failed : skipped)++;
        for (const auto& op : o.ops) {
            auto& st = op_stats[op];
            (v == 0 ? st.passed : v == 1 ? st.failed : st.skipped)++;
            st.suites.insert(tests[i].suite);
        }
        if (o.verdict == Verdict::Skip && o.message.rfind("unsupported ops:", 0) == 0) {
            std::istringstream ss(o.message.substr(16));
            std::string op;
            while (ss >> op) ++missing_ops[op];
        }
    }
    if (list_skipped) {
        std::printf("\nskipped tests:\n");
        for (size_t i = 0; i < tests.size(); ++i)
            if (outcomes[i].verdict == Verdict::Skip)
                std::printf("  SKIP %s/%s: %s\n", tests[i].suite.c_str(), tests[i].name.c_str(),
                            outcomes[i].message.c_str());
    }
    if (!missing_ops.empty()) {
        std::vector<std::pair<int, std::string>> v;
        for (const auto& [op, n] : missing_ops) v.emplace_back(-n, op);
        std::sort(v.begin(), v.end());
        std::printf("\nmissing ops (tests they block):");
        for (size_t i = 0; i < v.size(); ++i) std::printf("%s %s %d", i ? "," : "", v[i].second.c_str(), -v[i].first);
        std::printf("\n");
    }
    std::printf("\nby suite:\n");
    for (const auto& s : suite_order) {
        const auto& c = by_suite[s];
        std::printf("  %-28s %4d passed, %4d failed, %4d skipped\n", s.c_str(), c[0], c[1], c[2]);
    }
    if (!ops_md.empty()) {
        std::vector<std::pair<std::string, std::string>> other_skips;
        for (size_t i = 0; i < tests.size(); ++i) {
            const Outcome& o = outcomes[i];
            if (o.verdict == Verdict::Skip && o.message.rfind("unsupported ops:", 0) != 0)
                other_skips.emplace_back(tests[i].suite + "/" + tests[i].name, o.message);
        }
        if (!write_ops_md(ops_md, op_stats, passed, failed, skipped, root_labels, other_skips)) {
            std::fprintf(stderr, "test_conformance: cannot write %s\n", ops_md.c_str());
        } else {
            std::printf("op matrix written to %s\n", ops_md.c_str());
        }
    }
    std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed > 0 ? 1 : 0;
}
