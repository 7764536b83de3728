#include "formats/onnx/onnx_infer.h"

#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>

namespace edgeq::onnxio {
namespace {

void strip_tensor_data(onnx::GraphProto* g) {
    g->clear_initializer();
    g->clear_sparse_initializer();
    for (auto& n : *g->mutable_node()) {
        for (auto& a : *n.mutable_attribute()) {
            a.clear_t();
            a.clear_tensors();
            a.clear_sparse_tensor();
            a.clear_sparse_tensors();
            if (a.has_g()) strip_tensor_data(a.mutable_g());
            for (auto& sg : *a.mutable_graphs()) strip_tensor_data(&sg);
        }
    }
}

bool write_all(int fd, const char* p, size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

[[noreturn]] void child(onnx::ModelProto& model, int fd) {
    std::string out;
    try {
        onnx::shape_inference::InferShapes(model);
        strip_tensor_data(model.mutable_graph());
        model.clear_functions();
        out = "O" + model.SerializeAsString();
    } catch (const std::exception& e) {
        out = std::string("E") + e.what();
    } catch (...) {
        out = "Eunknown exception";
    }
    write_all(fd, out.data(), out.size());
    ::close(fd);
    ::_exit(0);
}

}  // namespace

std::string infer_shapes_isolated(onnx::ModelProto& model, onnx::ModelProto* inferred, int timeout_s) {
    int p[2];
    if (::pipe(p) != 0) return std::string("pipe failed: ") + std::strerror(errno);
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::close(p[0]);
        ::close(p[1]);
        return std::string("fork failed: ") + std::strerror(errno);
    }
    if (pid == 0) {
        ::close(p[0]);
        child(model, p[1]);
    }
    ::close(p[1]);
    std::string buf;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    bool timed_out = false;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        pollfd pf{p[0], POLLIN, 0};
        const int r = ::poll(&pf, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        char chunk[65536];
        const ssize_t n = ::read(p[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        buf.append(chunk, static_cast<size_t>(n));
    }
    ::close(p[0]);
    if (timed_out) ::kill(pid, SIGKILL);
    int st = 0;
    pid_t w;
    do {
        w = ::waitpid(pid, &st, 0);
    } while (w < 0 && errno == EINTR);
    if (timed_out) return "timed out after " + std::to_string(timeout_s) + " s";
    if (w == pid && WIFSIGNALED(st)) return std::string("crashed (") + strsignal(WTERMSIG(st)) + ")";
    if (buf.empty()) return "no result from the inference process";
    if (buf[0] == 'E') return buf.substr(1);
    if (buf[0] != 'O' || !inferred->ParseFromArray(buf.data() + 1, static_cast<int>(buf.size() - 1))) {
        return "unreadable result from the inference process";
    }
    return "";
}

}  // namespace edgeq::onnxio
