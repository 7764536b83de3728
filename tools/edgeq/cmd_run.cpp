// edgeq run MODEL.onnx --input NAME=FILE.npy ... [--output-dir DIR]: one inference, outputs as .npy files.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "eval/session.h"
#include "formats/data/npy.h"
#include "tools/edgeq/commands.h"

namespace edgeq::cli {
namespace {

struct RunCli {
    std::string model;
    std::vector<std::string> inputs;
    std::string out_dir = ".";
    bool no_optimize = false;
    bool reference = false;
    bool trace = false;
    int threads = 0;
};

// Output file name: characters outside [A-Za-z0-9._-] become '_'.
std::string safe_name(const std::string& n) {
    std::string s = n;
    for (char& c : s) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        if (!ok) c = '_';
    }
    return s.empty() ? "_" : s;
}

Status run(const RunCli& c) {
    SessionOptions so;
    so.optimize = !c.no_optimize;
    so.reference = c.reference;
    so.threads = c.threads;
    EDGEQ_ASSIGN_OR_RETURN(auto session, Session::open(c.model, so));
    std::map<std::string, Tensor> feeds;
    for (const auto& spec : c.inputs) {
        const auto eq = spec.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
            return InvalidArgument("--input '" + spec + "': expected NAME=FILE.npy");
        EDGEQ_ASSIGN_OR_RETURN(Tensor t, data::read_npy(spec.substr(eq + 1)));
        feeds[spec.substr(0, eq)] = std::move(t);
    }
    EDGEQ_ASSIGN_OR_RETURN(auto outs, session->run(feeds));
    if (c.trace) {
        // One line per step of the plan that ran: node, op, kernel, what was fused (integer steps name their qgemm
        // row; Q/DQ left unfused and other reference ops show "ref").
        std::map<std::string, Shape> shapes;
        for (const auto& [k, t] : feeds) shapes[k] = t.shape();
        const std::string t = session->trace(shapes);
        std::fprintf(stderr, "%s", t.empty() ? "trace: reference executor (no plan)\n" : t.c_str());
    }
    std::error_code ec;
    std::filesystem::create_directories(c.out_dir, ec);
    if (ec) return IoError(c.out_dir + ": cannot create output directory: " + ec.message());
    for (const auto& o : session->model().graph.outputs) {
        const std::string path = (std::filesystem::path(c.out_dir) / (safe_name(o.name) + ".npy")).string();
        EDGEQ_RETURN_IF_ERROR(data::write_npy(path, outs.at(o.name)));
        std::printf("%s: %s %s -> %s\n", o.name.c_str(), dtype_name(outs.at(o.name).dtype()),
                    shape_str(outs.at(o.name).shape()).c_str(), path.c_str());
    }
    return Status::Ok();
}

}  // namespace

void register_run(CLI::App& app) {
    auto c = std::make_shared<RunCli>();
    auto* cmd = app.add_subcommand("run", "Run an ONNX model on .npy inputs; write each output to DIR/<name>.npy");
    cmd->footer("Example:\n  edgeq run model.onnx --input input=x.npy --output-dir out --trace");
    cmd->add_option("MODEL", c->model, "ONNX model")->required();
    cmd->add_option("--input,-i", c->inputs, "NAME=FILE.npy (repeatable)");
    cmd->add_option("--output-dir,-o", c->out_dir, "Folder for the outputs (default: .)");
    cmd->add_flag("--no-optimize", c->no_optimize, "Run the graph as imported, without edgeq's optimizer");
    cmd->add_flag("--reference", c->reference, "Use the reference executor (the specification) instead of the fast path");
    cmd->add_option("--threads,-t", c->threads, "Worker threads (default: all cores)")->check(CLI::Range(0, 1024));
    cmd->add_flag("--trace", c->trace, "Print the executed plan to stderr: node, op, kernel, fused nodes");
    cmd->callback([c] { report("run", run(*c)); });
}

}  // namespace edgeq::cli
