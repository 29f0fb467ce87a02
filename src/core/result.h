#pragma once
// Result<T>: a value or an Error, without exceptions on the data plane.

#include <boost/system/result.hpp>
#include <string>
#include <utility>

namespace seccloud {

enum class Errc {
  kInvalidArgument,  // the input is malformed or out of range
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kResourceExhausted,  // disk full, a limit reached
  kUnavailable,        // a peer or resource is not there right now
  kDeadlineExceeded,
  kIo,  // an operating-system call failed
  kInternal,
};

const char* ErrcName(Errc code);

struct Error {
  Errc code = Errc::kInternal;
  std::string message;  // one sentence a person can act on

  std::string ToString() const;
};

// Builds "what: strerror(errnum)" as an Errc::kIo error (kResourceExhausted for
// ENOSPC/EDQUOT/EFBIG, kPermissionDenied for EACCES/EPERM/EROFS, kNotFound for ENOENT).
Error ErrnoError(const std::string& what, int errnum);

// boost::system::result calls this when .value() is used on an error.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;
using Status = Result<void>;

inline Error MakeError(Errc code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace seccloud

#define SECCLOUD_CONCAT_INNER(a, b) a##b
#define SECCLOUD_CONCAT(a, b) SECCLOUD_CONCAT_INNER(a, b)

#define SECCLOUD_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr, ret) \
  auto tmp = (expr);                                        \
  if (!tmp) ret std::move(tmp).error();                     \
  lhs = std::move(*tmp)

// ASSIGN_OR_RETURN(auto x, Foo()); returns Foo()'s error from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, expr) \
  SECCLOUD_ASSIGN_OR_RETURN_IMPL(SECCLOUD_CONCAT(result_, __LINE__), lhs, expr, return )
// The same inside a coroutine.
#define CO_ASSIGN_OR_RETURN(lhs, expr) \
  SECCLOUD_ASSIGN_OR_RETURN_IMPL(SECCLOUD_CONCAT(result_, __LINE__), lhs, expr, co_return )

#define RETURN_IF_ERROR(expr)             \
  do {                                    \
    auto status_ = (expr);                \
    if (!status_) return status_.error(); \
  } while (0)
