// NumPy .npz archives (numpy.savez / savez_compressed): a ZIP file whose entries are .npy files.
//
// Layout used (ZIP APPNOTE):
//   1. End of central directory (EOCD, signature 0x06054b50) in the last 65,557 bytes; for ZIP64 archives the
//      ZIP64 EOCD locator (0x07064b50) before it points at the ZIP64 EOCD record (0x06064b50)
//   2. central directory: one header (0x02014b50) per entry: method, CRC-32, sizes, name, local header offset
//      (0xFFFFFFFF fields come from the ZIP64 extra field 0x0001)
//   3. per entry a local header (0x04034b50) + name + extra, then the data: stored (method 0) or raw deflate
//      (method 8)
// Every offset and size is checked against the file; the CRC-32 and the inflated size must match the central
// directory. Entry "x.npy" becomes key "x"; entries not ending in .npy and directories are ignored.
#pragma once

#include <map>
#include <string>

#include "edgeq/status.h"
#include "edgeq/tensor.h"

namespace edgeq::data {

Result<std::map<std::string, Tensor>> read_npz(const std::string& path);

}  // namespace edgeq::data
