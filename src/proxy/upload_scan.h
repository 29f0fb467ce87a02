#pragma once
// Malware scanning of uploads (R8): which request bodies the proxy holds back for scand, and how
// a multipart/form-data body is split so that each uploaded file is scanned as the file it is.
//
// The policy is the response path's (proxy.scan): a body up to max_size is held whole, scanned,
// and sent upstream only when clean; a larger one streams through unscanned; the bypass lists
// (media types, domains) exempt a body from the hold. For an upload the media type is the one
// the client declares and the domain is the destination's.
//
// Coroutine-free and allocation-bounded, so the fuzz build can link it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/proxy_config.h"
#include "core/result.h"

namespace seccloud::proxy {

// Why the scan lists exempt a body, or empty when they do not: "bypassed: media type video/"
// or "bypassed: domain cdn.example". `content_type` is the Content-Type field's value.
std::string ScanBypassNote(const ProxyScanConfig& sc, std::string_view content_type,
                           std::string_view host);

enum class UploadScanAction {
  kHold,      // read the whole body (up to max_size), scan, forward only when clean
  kTooLarge,  // the declared Content-Length exceeds max_size: stream through unscanned
  kBypassed,  // a bypass list matched: stream through unscanned
};

struct UploadScanPlan {
  UploadScanAction action = UploadScanAction::kHold;
  std::string note;  // for seccloud.scan.upload.note when the body is not scanned
};

// `content_length` is the request's declared length (nullopt for chunked). A chunked body is
// held until it exceeds max_size; whatever was held then goes first and the rest streams.
UploadScanPlan PlanUploadScan(const ProxyScanConfig& sc, std::string_view content_type,
                              std::string_view host, std::optional<uint64_t> content_length);

// The note of a chunked upload that turned out larger than max_size while it was being held.
std::string UploadTooLargeNote(const ProxyScanConfig& sc);

// ---- multipart/form-data (RFC 7578, RFC 2046 §5.1) ---------------------------------------

// The boundary of a multipart/form-data Content-Type; nullopt when the type is something else
// or the boundary parameter is missing or not a valid boundary (1–70 characters).
std::optional<std::string> FormBoundary(std::string_view content_type);

// One part of a form: the field's name, the file name the browser sent (empty for plain
// fields) and the content, a view into the body it was split from.
struct FormPart {
  std::string name;
  std::string file_name;
  std::string_view content;
};

struct FormLimits {
  size_t max_parts = 1000;
  size_t max_part_header_bytes = 16 * 1024;
};

// Splits a complete multipart/form-data body. Errors (kInvalidArgument) name what is wrong: no
// delimiter, a part header without its end or over the limit, more parts than allowed, a body
// that ends inside a part (no close delimiter).
Result<std::vector<FormPart>> SplitForm(std::string_view body, std::string_view boundary,
                                        const FormLimits& limits = {});

}  // namespace seccloud::proxy
