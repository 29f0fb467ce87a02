#include "core/result.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace seccloud {

const char* ErrcName(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
      return "invalid argument";
    case Errc::kNotFound:
      return "not found";
    case Errc::kAlreadyExists:
      return "already exists";
    case Errc::kPermissionDenied:
      return "permission denied";
    case Errc::kResourceExhausted:
      return "resource exhausted";
    case Errc::kUnavailable:
      return "unavailable";
    case Errc::kDeadlineExceeded:
      return "deadline exceeded";
    case Errc::kIo:
      return "I/O error";
    case Errc::kInternal:
      return "internal error";
  }
  return "unknown error";
}

std::string Error::ToString() const { return message.empty() ? ErrcName(code) : message; }

Error ErrnoError(const std::string& what, int errnum) {
  Errc code = Errc::kIo;
  switch (errnum) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      code = Errc::kResourceExhausted;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = Errc::kPermissionDenied;
      break;
    case ENOENT:
      code = Errc::kNotFound;
      break;
    default:
      break;
  }
  return Error{code, what + ": " + std::strerror(errnum)};
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw std::runtime_error(e.ToString());
}

}  // namespace seccloud
