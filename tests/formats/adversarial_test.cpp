// Issue 10 item 2: every reader turns a hostile file (tests/common/adversarial_files.h) into a Status naming
// the file and the problem, without crashing or allocating what the header claims (ASan's allocator would
// report an allocation of terabytes; tests/e2e/adversarial_e2e_test.cpp checks the CLI under `ulimit -v`).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/adversarial_files.h"
#include "formats/data/idx.h"
#include "formats/data/npy.h"
#include "formats/data/npz.h"
#include "formats/gguf/gguf.h"
#include "formats/llama2c/llama2c.h"
#include "formats/onnx/onnx_import.h"

namespace edgeq {
namespace {
namespace fs = std::filesystem;

Status read_with_reader(const test::BadFile& b, const fs::path& p, const fs::path& dir) {
    switch (b.kind) {
        case test::BadKind::Gguf: return gguf::File::open(p.string()).status();
        case test::BadKind::Onnx: return onnxio::load_model(p.string()).status();
        case test::BadKind::Llama2c: return llama2c::load(p.string(), (dir / (b.name + ".tok.bin")).string()).status();
        case test::BadKind::Npy: return data::read_npy(p.string()).status();
        case test::BadKind::Npz: return data::read_npz(p.string()).status();
        case test::BadKind::Idx: return data::read_idx(p.string()).status();
    }
    return Status::Ok();
}

TEST(Adversarial, EveryReaderRejectsEveryCraftedFile) {
    const fs::path dir = fs::temp_directory_path() / ("edgeq_adv_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    for (const auto& b : test::all_bad_files()) {
        SCOPED_TRACE(b.name);
        const fs::path p = test::write_bad_file(b, dir);
        const Status s = read_with_reader(b, p, dir);
        ASSERT_FALSE(s.ok());
        EXPECT_NE(s.message().find(b.needle), std::string::npos) << "message: " << s.message() << "\nwanted: " << b.needle;
        EXPECT_NE(s.message().find(b.name), std::string::npos) << "the message should name the file: " << s.message();
        EXPECT_EQ(s.message().find_first_of("\n\r"), std::string::npos) << "the message should be one line: " << s.message();
    }
    fs::remove_all(dir);
}

// The builders themselves make valid files when asked to (so each case fails for its own reason).
TEST(Adversarial, BuildersMakeValidFilesToo) {
    const fs::path dir = fs::temp_directory_path() / ("edgeq_adv_ok_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string small = test::npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", "abcd");
    const std::vector<test::BadFile> good = {
        {"gguf_ok", test::BadKind::Gguf, test::gguf_one_tensor({4, 4}), "", ""},
        {"onnx_ok", test::BadKind::Onnx, test::onnx_model([](onnx::ModelProto&) {}), "", ""},
        {"l2c_ok", test::BadKind::Llama2c, test::l2c_tiny(), test::l2c_tokenizer(8, {1, 1, 1, 1}), ""},
        {"npy_ok", test::BadKind::Npy, small, "", ""},
        {"npz_ok", test::BadKind::Npz, test::zip_one(small, 0, static_cast<uint32_t>(small.size())), "", ""},
        {"idx_ok", test::BadKind::Idx, test::idx_header({2, 2}) + "abcd", "", ""},
        {"idx_gz_ok", test::BadKind::Idx, test::idx_header({2, 2}) + "abcd", "", "", true},
    };
    for (const auto& b : good) {
        SCOPED_TRACE(b.name);
        const fs::path p = test::write_bad_file(b, dir);
        const Status s = read_with_reader(b, p, dir);
        EXPECT_TRUE(s.ok()) << s.message();
    }
    fs::remove_all(dir);
}

}  // namespace
}  // namespace edgeq
