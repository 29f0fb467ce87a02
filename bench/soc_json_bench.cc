// soc_json_bench: one JSON reader over the lines of one file, for callgrind (R18, issue 5).
//
//   soc_json_bench --file FILE --mode MODE [--reps N]
//
// MODE is one of
//   read         touch every line (the loop's own cost; subtract it)
//   boost-basic  Boost.JSON 1.81's basic_parser with a handler that does nothing (its tokenizer)
//   boost-dom    Boost.JSON's stream_parser building the tree in a monotonic arena, as
//                ParseJsonObject does (one reused parser, options as there)
//   parse-object ParseJsonObject itself (boost-dom + its UTF-8 check and sanitising)
//   tape         ReadJsonTape into one reused FieldTape
//   tape-dom     ReadJsonTape, then the same tree built from the tape (TapeToValue) in the arena
//   find-tree    boost-dom, then FindField for each of kFindPaths (a Sigma-like mix, present and
//                absent); minus boost-dom, the lookups' cost
//   find-tape    tape, then FindInTape for each of kFindPaths; minus tape, the lookups' cost
// Every line is read N times (default 1); prints lines, bytes, accepted lines and the thread-CPU
// ns per line. The work of each pass is in RunPass, so
//   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*RunPass*' soc_json_bench …
// counts the reader's instructions alone (the file's loading excluded).
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/stream_parser.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "soc/field_tape.h"
#include "soc/parse.h"
#include "soc/parse_internal.h"
#include "soc/record.h"
#include "soc_bench_util.h"

namespace {

namespace json = boost::json;
using namespace seccloud;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "soc_json_bench: %s\n", what.c_str());
  std::exit(1);
}

// basic_parser's handler that keeps nothing: what is left is Boost's tokenizer.
struct NullHandler {
  constexpr static std::size_t max_object_size = std::size_t(-1);
  constexpr static std::size_t max_array_size = std::size_t(-1);
  constexpr static std::size_t max_key_size = std::size_t(-1);
  constexpr static std::size_t max_string_size = std::size_t(-1);
  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t, json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

json::parse_options Options() {
  json::parse_options opt;
  opt.max_depth = soc::kMaxParsedJsonDepth;
  opt.allow_invalid_utf8 = true;
  return opt;
}

constexpr std::string_view kFindPaths[] = {"event.dataset",   "source.ip",
                                           "client.ip",       "dns.question.name",
                                           "url.full",        "destination.port",
                                           "tenant.id",       "http.response.status_code",
                                           "user.name",       "process.command_line",
                                           "winlog.event_id", "file.hash.sha256",
                                           "event_type",      "src_ip",
                                           "alert.signature", "Event.System.EventID"};

// The arena of one line: a fixed first block reused line after line, as a record's arena is
// allocated once per record (its allocation is not the reader's cost).
constexpr size_t kArenaBytes = size_t{256} << 10;

__attribute__((noinline)) size_t RunPass(const std::string& mode,
                                         const std::vector<std::string>& lines) {
  static std::vector<unsigned char> arena(kArenaBytes);
  size_t accepted = 0;
  if (mode == "read") {
    for (const auto& l : lines) accepted += !l.empty() && l[0] == '{';
  } else if (mode == "boost-basic") {
    json::basic_parser<NullHandler> p(Options());
    for (const auto& l : lines) {
      p.reset();
      json::error_code ec;
      p.write_some(false, l.data(), l.size(), ec);
      accepted += !ec;
    }
  } else if (mode == "find-tree") {
    json::stream_parser p({}, Options());
    for (const auto& l : lines) {
      json::monotonic_resource mr(arena.data(), arena.size());
      p.reset(json::storage_ptr(&mr));
      json::error_code ec;
      p.write_some(l.data(), l.size(), ec);
      if (!ec) p.finish(ec);
      if (ec) {
        p.reset();
        continue;
      }
      json::value v = p.release();
      if (!v.is_object()) continue;
      for (std::string_view path : kFindPaths)
        accepted += soc::FindField(v.get_object(), path) != nullptr;
    }
  } else if (mode == "find-tape") {
    static soc::FieldTape tape;
    std::string error;
    for (const auto& l : lines) {
      if (!soc::ReadJsonTape(l, &tape, &error)) continue;
      for (std::string_view path : kFindPaths) accepted += soc::FindInTape(tape, path) != nullptr;
    }
  } else if (mode == "boost-dom") {
    json::stream_parser p({}, Options());
    for (const auto& l : lines) {
      json::monotonic_resource mr(arena.data(), arena.size());
      p.reset(json::storage_ptr(&mr));
      json::error_code ec;
      p.write_some(l.data(), l.size(), ec);
      if (!ec) p.finish(ec);
      if (!ec) {
        json::value v = p.release();
        accepted += v.is_object();
      } else {
        p.reset();
      }
    }
  } else if (mode == "parse-object") {
    std::string error;
    for (const auto& l : lines) {
      json::monotonic_resource mr(arena.data(), arena.size());
      json::object obj{json::storage_ptr(&mr)};
      accepted += soc::internal::ParseJsonObject(l, obj.storage(), &obj, &error);
    }
  } else if (mode == "tape" || mode == "tape-dom") {
    static soc::FieldTape tape;
    std::string error;
    const bool dom = mode == "tape-dom";
    for (const auto& l : lines) {
      if (!soc::ReadJsonTape(l, &tape, &error)) continue;
      if (dom) {
        json::monotonic_resource mr(arena.data(), arena.size());
        json::value v = soc::TapeToValue(tape, 0, json::storage_ptr(&mr));
        accepted += v.is_object();
      } else {
        ++accepted;
      }
    }
  } else {
    Die("unknown --mode " + mode);
  }
  return accepted;
}

}  // namespace

int main(int argc, char** argv) {
  std::string file, mode;
  int reps = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Die("missing value after " + a);
    if (a == "--file") {
      file = argv[++i];
    } else if (a == "--mode") {
      mode = argv[++i];
    } else if (a == "--reps") {
      reps = std::atoi(argv[++i]);
      if (reps < 1 || reps > 1000) Die("--reps must be 1..1000");
    } else {
      Die("unknown option " + a);
    }
  }
  if (file.empty() || mode.empty()) Die("usage: --file FILE --mode MODE [--reps N]");
  std::ifstream in(file, std::ios::binary);
  if (!in) Die("cannot read " + file);
  std::vector<std::string> lines;
  size_t bytes = 0;
  for (std::string l; std::getline(in, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    bytes += l.size();
    lines.push_back(std::move(l));
  }
  size_t accepted = 0;
  const double t0 = bench::ThreadCpu();
  for (int r = 0; r < reps; ++r) accepted = RunPass(mode, lines);
  const double t1 = bench::ThreadCpu();
  std::printf("%s %s: %zu lines, %zu bytes, %zu accepted, %.1f ns/line\n", file.c_str(),
              mode.c_str(), lines.size(), bytes, accepted,
              (t1 - t0) * 1e9 / static_cast<double>(lines.size() * static_cast<size_t>(reps)));
  return 0;
}
