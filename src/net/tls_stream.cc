// TlsStream's OpenSSL side: the BIO over the stream's buffers and the calls into SSL (R3, R9).

#include "net/tls_stream.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

namespace seccloud::net {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// Plaintext per record (RFC 8446 5.1): buffers smaller than this are packed together.
constexpr size_t kRecordPlaintext = 16 * 1024;

TlsStream* StreamOf(BIO* bio) { return static_cast<TlsStream*>(BIO_get_data(bio)); }

int BioReadCb(BIO* bio, char* out, int len) {
  BIO_clear_retry_flags(bio);
  const int n = StreamOf(bio)->BioRead(out, len);
  if (n == 0 && len > 0) {
    BIO_set_retry_read(bio);  // nothing buffered: the stream reads the transport, then retries
    return -1;
  }
  return n;
}

int BioWriteCb(BIO* bio, const char* data, int len) {
  BIO_clear_retry_flags(bio);
  return StreamOf(bio)->BioWrite(data, len);
}

long BioCtrlCb(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:  // the stream sends what is pending after each call into SSL
      return 1;
    case BIO_CTRL_PENDING:
      return static_cast<long>(StreamOf(bio)->input_pending());
    case BIO_CTRL_WPENDING:
      return static_cast<long>(StreamOf(bio)->output_pending());
    default:
      return 0;
  }
}

int BioCreateCb(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* StreamBioMethod() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "seccloud TlsStream");
    if (m == nullptr || BIO_meth_set_write(m, BioWriteCb) != 1 ||
        BIO_meth_set_read(m, BioReadCb) != 1 || BIO_meth_set_ctrl(m, BioCtrlCb) != 1 ||
        BIO_meth_set_create(m, BioCreateCb) != 1)
      throw std::bad_alloc();
    return m;
  }();
  return method;
}

// SSL_get_error explains a call only when the thread's error queue was empty before it.
// ERR_clear_error walks every slot of the queue each time (2 % of the user-space instructions of
// an intercepted 1 KiB request under callgrind, called before every SSL_read/SSL_write); a look
// at whether anything is queued is enough, as errors are cleared where they are read.
void EmptyErrorQueue() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

// asio's mapping of an SSL call's failure (boost/asio/ssl/detail/impl/engine.ipp), so callers
// see the codes they saw from asio::ssl::stream.
error_code SslFailure(int ssl_error) {
  const unsigned long sys_error = ERR_get_error();
  if (ssl_error == SSL_ERROR_SSL) {
    if (ERR_GET_REASON(sys_error) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
      return asio::ssl::error::stream_truncated;
    return error_code(static_cast<int>(sys_error), asio::error::get_ssl_category());
  }
  if (ssl_error == SSL_ERROR_SYSCALL) {
    if (sys_error == 0) return asio::ssl::error::unspecified_system_error;
    return error_code(static_cast<int>(sys_error), asio::error::get_ssl_category());
  }
  if (ssl_error == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  return asio::ssl::error::unexpected_result;
}

// What follows an SSL_connect/SSL_accept/SSL_shutdown step that returned `r`, with `pending`
// bytes of output waiting.
TlsStream::Want AfterHandshakeStep(SSL* ssl, int r, size_t pending, error_code& ec) {
  ec = {};
  if (r == 1) return pending > 0 ? TlsStream::Want::kOutput : TlsStream::Want::kNothing;
  const int err = SSL_get_error(ssl, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    ERR_clear_error();
    return pending > 0 || err == SSL_ERROR_WANT_WRITE ? TlsStream::Want::kOutputAndRetry
                                                      : TlsStream::Want::kInput;
  }
  ec = SslFailure(err);
  ERR_clear_error();
  // The alert goes out first.
  return pending > 0 ? TlsStream::Want::kOutput : TlsStream::Want::kNothing;
}

}  // namespace

TlsStream::TlsStream(next_layer_type next, SSL_CTX* ctx)
    : next_(std::move(next)),
      ssl_(SSL_new(ctx)),
      read_lock_(next_.get_executor()),
      write_lock_(next_.get_executor()) {
  if (ssl_ == nullptr) throw std::bad_alloc();
  BIO* bio = BIO_new(StreamBioMethod());
  if (bio == nullptr) {
    SSL_free(ssl_);
    throw std::bad_alloc();
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // one reference, owned by the SSL
  // OpenSSL's record buffers stay for the connection (no malloc/free pair per record), and
  // ACCEPT_MOVING_WRITE_BUFFER because a retried write may come from a packed copy.
  SSL_clear_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
  SSL_set_mode(ssl_, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

int TlsStream::BioRead(char* out, int len) {
  const size_t n = std::min(input_pending(), static_cast<size_t>(std::max(len, 0)));
  if (n == 0) return 0;
  std::memcpy(out, in_.get() + in_begin_, n);
  in_begin_ += n;
  return static_cast<int>(n);
}

int TlsStream::BioWrite(const char* data, int len) {
  if (len <= 0) return 0;
  // As uint8_t, so the vector copies with memmove: from the char* OpenSSL hands the BIO, the
  // range insert converts byte by byte (a quarter of a perf profile of the relay).
  const auto* p = reinterpret_cast<const uint8_t*>(data);
  out_.insert(out_.end(), p, p + len);
  return len;
}

asio::mutable_buffer TlsStream::InputSpace() {
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  if (!in_ || (in_full_ && in_size_ < kInputSize)) {
    const size_t size = in_ ? kInputSize : kInputStart;
    std::unique_ptr<uint8_t[]> bigger(new uint8_t[size]);
    if (in_end_ > in_begin_) std::memcpy(bigger.get(), in_.get() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
    in_ = std::move(bigger);
    in_size_ = size;
  } else if (in_begin_ > 0 && in_size_ - in_end_ < kRecordPlaintext) {
    // A partial record sits near the end: move it to the front so the next recv has room.
    std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  return asio::buffer(in_.get() + in_end_, in_size_ - in_end_);
}

error_code TlsStream::MapEof() const {
  // Bytes of a record the peer never finished, or no close_notify: the stream was cut short.
  if (input_pending() > 0 || (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) == 0)
    return asio::ssl::error::stream_truncated;
  return asio::error::eof;
}

asio::const_buffer TlsStream::TakeOutput() {
  sending_.clear();
  sending_.swap(out_);
  return asio::buffer(sending_);
}

void TlsStream::OutputSent(size_t sent) {
  // A send that failed part way (its operation cancelled: a deadline's watch cancels the socket's
  // operations, not the stream) sent the head of a record: its tail stays first in the pending
  // output, so whatever is written next follows a whole record. Until proxy15 the tail was
  // dropped and the next write (a 408 page) followed half a record: a corrupt stream.
  if (sent < sending_.size())
    out_.insert(out_.begin(), sending_.begin() + static_cast<std::ptrdiff_t>(sent), sending_.end());
  sending_.clear();
}

bool TlsStream::SendPendingNow(error_code& ec) {
  ec = {};
  if (out_.empty()) return true;
  ssize_t sent;
  do {
    sent = ::send(next_.socket().native_handle(), out_.data(), out_.size(),
                  MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      ec = error_code(errno, boost::system::system_category());
    return false;
  }
  out_.erase(out_.begin(), out_.begin() + sent);
  return out_.empty();
}

size_t TlsStream::WriteNow(const WriteAction& action, error_code& ec) {
  // Whatever is pending goes before new records, and only one sender at a time. With the lock
  // held SendPendingNow is not called: without this, a caller's stale error would stand in
  // for would_block.
  ec = {};
  if (write_lock_.held || !SendPendingNow(ec)) {
    if (!ec) ec = asio::error::would_block;
    return 0;
  }
  error_code result;
  size_t n = 0;
  const Want want = DoWrite(action.buffers.data(), action.count, result, n);
  if (want == Want::kInput || want == Want::kOutputAndRetry) {
    // Nothing was taken (DoWrite asks for the transport only then); output it produced stays
    // pending, and the asynchronous write sends it and calls SSL_write again.
    ec = asio::error::would_block;
    return 0;
  }
  // The records (or an alert) go now; what the kernel does not take stays pending. A send that
  // fails here (the connection is dead) returns 0 with its error although SSL_write took n
  // bytes: nothing more goes on this stream, so the n bytes are lost either way.
  SendPendingNow(ec);
  if (!ec) ec = result;
  return ec ? 0 : n;
}

TlsStream::Want TlsStream::DoRead(asio::mutable_buffer buffer, error_code& ec, size_t& n) {
  n = 0;
  ec = {};
  if (read_error_) {
    ec = std::exchange(read_error_, {});
    return Want::kNothing;
  }
  if (buffer.size() == 0) return Want::kNothing;
  auto* data = static_cast<char*>(buffer.data());
  size_t room = buffer.size();
  for (;;) {
    EmptyErrorQueue();
    size_t got = 0;
    const int r = SSL_read_ex(ssl_, data + n, room, &got);
    if (r == 1) {
      n += got;
      room -= got;
      // More records may already be here: fill the caller's buffer from them.
      if (room > 0 && (SSL_pending(ssl_) > 0 || input_pending() > 0)) continue;
      break;
    }
    const int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ) {
      if (n > 0) break;
      ERR_clear_error();
      return output_pending() > 0 ? Want::kOutputAndRetry : Want::kInput;
    }
    if (err == SSL_ERROR_WANT_WRITE) {  // the BIO always takes output; kept for completeness
      if (n > 0) break;
      return Want::kOutputAndRetry;
    }
    // close_notify or a failure: reported now, or by the next read when bytes came first.
    (n > 0 ? read_error_ : ec) = SslFailure(err);
    ERR_clear_error();
    break;
  }
  return output_pending() > 0 ? Want::kOutput : Want::kNothing;
}

TlsStream::Want TlsStream::DoWrite(const asio::const_buffer* buffers, size_t count, error_code& ec,
                                   size_t& n) {
  n = 0;
  ec = {};
  // Writes one piece; false (with `want` set) when OpenSSL did not take it.
  Want want = Want::kNothing;
  auto write = [&](const void* data, size_t size) {
    EmptyErrorQueue();
    size_t written = 0;
    const int r = SSL_write_ex(ssl_, data, size, &written);
    if (r == 1) return true;
    const int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ) {
      want = output_pending() > 0 ? Want::kOutputAndRetry : Want::kInput;
    } else if (err == SSL_ERROR_WANT_WRITE) {
      want = Want::kOutputAndRetry;
    } else {
      ec = SslFailure(err);
      want = output_pending() > 0 ? Want::kOutput : Want::kNothing;
    }
    ERR_clear_error();
    return false;
  };
  // Small buffers (an HTTP header and a small body, chunk framing) go out packed in one
  // record; a buffer of a record or more goes to SSL_write as it is. Only whole pieces count
  // as written, so a piece OpenSSL did not take is offered again, whole, by the retry.
  size_t i = 0;
  while (i < count) {
    if (buffers[i].size() < kRecordPlaintext && i + 1 < count &&
        buffers[i].size() + buffers[i + 1].size() <= kRecordPlaintext) {
      pack_.clear();
      size_t j = i;
      while (j < count && pack_.size() + buffers[j].size() <= kRecordPlaintext) {
        const auto* p = static_cast<const uint8_t*>(buffers[j].data());
        pack_.insert(pack_.end(), p, p + buffers[j].size());
        ++j;
      }
      if (!write(pack_.data(), pack_.size())) break;
      n += pack_.size();
      i = j;
    } else {
      if (!write(buffers[i].data(), buffers[i].size())) break;
      n += buffers[i].size();
      ++i;
    }
  }
  if (i < count) {
    if (n == 0 || ec) {
      if (ec) n = 0;
      return want;
    }
    ec = {};  // some pieces went: report those; the caller writes the rest again
  }
  return output_pending() > 0 ? Want::kOutput : Want::kNothing;
}

TlsStream::Want TlsStream::DoHandshake(handshake_type type, error_code& ec) {
  ERR_clear_error();
  const int r =
      type == boost::asio::ssl::stream_base::client ? SSL_connect(ssl_) : SSL_accept(ssl_);
  return AfterHandshakeStep(ssl_, r, output_pending(), ec);
}

TlsStream::Want TlsStream::DoShutdown(error_code& ec) {
  ERR_clear_error();
  int r = SSL_shutdown(ssl_);
  if (r == 0) r = SSL_shutdown(ssl_);  // close_notify sent; now wait for the peer's
  return AfterHandshakeStep(ssl_, r, output_pending(), ec);
}

}  // namespace seccloud::net
