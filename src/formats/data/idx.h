// IDX files (MNIST / Fashion-MNIST), plain or gzip-compressed (detected by content, not by name).
//
// Layout:
//   1. magic: 0x00 0x00, element type (0x08 = unsigned byte), number of dimensions N (1..4)
//      (0x00000801 = labels [n], 0x00000803 = images [n, rows, cols])
//   2. N dimensions, big-endian uint32
//   3. prod(dims) bytes of data, nothing after
// Only unsigned-byte data is read (that is what MNIST uses); the result is a U8 tensor of shape dims.
// max_items >= 0 reads only the first max_items entries along dimension 0 (the rest of the stream is neither
// decompressed nor checked: a caller that needs 300 of 60000 images does not inflate 47 MB); the header is
// still validated in full. header_items (when not null) receives the header's dimension 0.
#pragma once

#include <string>

#include "edgeq/status.h"
#include "edgeq/tensor.h"

namespace edgeq::data {

Result<Tensor> read_idx(const std::string& path, int64_t max_items = -1, int64_t* header_items = nullptr);

}  // namespace edgeq::data
