// The two cryptographic primitives storage needs, both from OpenSSL
// libcrypto: SHA-256 (content addresses, API-key hashes) and a CSPRNG (key
// material, ids).
//
// Concurrency: stateless free functions; safe from any thread (OpenSSL 3
// initialises itself thread-safely).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kiln::storage {

// Lower-case hex SHA-256 of `data` (64 characters).
std::string sha256_hex(std::string_view data);

// Lower-case hex SHA-256 of a file's contents, read in chunks so a 50 MiB
// blob is never held in memory just to verify it.
Result<std::string> sha256_file_hex(const std::string& path);

// `n_bytes` bytes from RAND_bytes as 2 * n_bytes lower-case hex characters.
Result<std::string> random_hex(std::size_t n_bytes);

}  // namespace kiln::storage
