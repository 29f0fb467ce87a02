// The fuzzer's bytes as a SOC API token file (soc/api_token.h), then as an Authorization header
// against what parsed.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "soc/api_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto set = seccloud::soc::ParseApiTokens(text, "fuzz-tokens");
  if (!set) set.emplace();
  const seccloud::soc::ApiToken* t = seccloud::soc::Authenticate(*set, text);
  if (t != nullptr) (void)t->Covers("tsu");
  (void)seccloud::soc::Authenticate(*set, "Bearer sct_00");
  return 0;
}
