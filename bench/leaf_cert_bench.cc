// R9: cost of minting interception leaf certificates and of finding one already minted.
// No peer program: prints absolute figures (see bench/README.md).

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "net/tls.h"

namespace {

using namespace seccloud::net;

std::shared_ptr<const InterceptionCa> Ca(CaKeyType type) {
  char templ[] = "/tmp/leaf-bench-XXXXXX";
  const std::filesystem::path dir = ::mkdtemp(templ);
  if (!InitCa(dir, CaOptions{.node = "bench", .key_type = type})) std::abort();
  auto ca = InterceptionCa::Load(dir).value();
  std::filesystem::remove_all(dir);
  return ca;
}

std::vector<std::string> Names(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back("host" + std::to_string(i) + ".city.example.jp");
  return out;
}

// Certificate only: build, extensions, sign.
void BM_MintLeafCertificate(benchmark::State& state) {
  auto ca = Ca(state.range(0) ? CaKeyType::kRsa3072 : CaKeyType::kEcdsaP256);
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  const auto now = std::chrono::system_clock::now();
  for (auto _ : state) {
    auto cert =
        MintLeafCertificate(*ca, key.get(), "www.city.example.jp", now, std::chrono::days(397));
    benchmark::DoNotOptimize(cert);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(state.range(0) ? "RSA 3072 CA" : "ECDSA P-256 CA");
}
BENCHMARK(BM_MintLeafCertificate)->Arg(0)->Arg(1);

// A cache miss as a handshake sees it: validate name, mint, build the SSL_CTX, insert, evict.
void BM_ServerContextMiss(benchmark::State& state) {
  auto ca = Ca(state.range(0) ? CaKeyType::kRsa3072 : CaKeyType::kEcdsaP256);
  auto cache = LeafCertCache::Create(ca, LeafCacheOptions{.max_entries = 1000}).value();
  size_t i = 0;
  for (auto _ : state) {
    auto ctx = cache->ServerContextFor("host" + std::to_string(i++) + ".example.jp");
    if (!ctx) state.SkipWithError("mint failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(state.range(0) ? "RSA 3072 CA" : "ECDSA P-256 CA");
}
BENCHMARK(BM_ServerContextMiss)->Arg(0)->Arg(1);

// Cache hits over 10,000 cached names (the default bound), from 1 and 2 threads.
void BM_ServerContextHit(benchmark::State& state) {
  static auto* cache = [] {
    auto c = LeafCertCache::Create(Ca(CaKeyType::kEcdsaP256)).value().release();
    for (const auto& n : Names(10'000)) c->ServerContextFor(n).value();
    return c;
  }();
  static const auto* names = new std::vector<std::string>(Names(10'000));
  size_t i = static_cast<size_t>(state.thread_index()) * 4999;
  for (auto _ : state) {
    auto ctx = cache->ServerContextFor((*names)[i++ % names->size()]);
    benchmark::DoNotOptimize(ctx);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ServerContextHit)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
