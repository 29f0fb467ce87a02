#pragma once
// A TLS stream over Beast's tcp_stream for the proxy's intercepted connections (R3, R9), in place
// of boost::asio::ssl::stream. asio's stream moves every byte socket -> its 17 KiB input buffer ->
// a BIO pair -> OpenSSL, and OpenSSL -> BIO pair -> its output buffer -> socket, reads at most one
// TLS record's worth per recv and sends each record (and each buffer of a gathered write) on its
// own. This one gives OpenSSL a BIO over the stream's own buffers: a recv takes up to 64 KiB (up
// to four full records), SSL_read fills the caller's buffer from as many records as are there, a
// write packs small buffers into one record and sends every record of the call in one send.
//
// Same contract as asio::ssl::stream<beast::tcp_stream> where the proxy relies on it: an
// AsyncStream (async_read_some/async_write_some, at most one read and one write outstanding at a
// time), async_handshake/async_shutdown, the same error codes (asio::error::eof after a
// close_notify, asio::ssl::error::stream_truncated for a transport EOF without one, the ssl
// category for OpenSSL errors, the transport's errors — beast::error::timeout included — as
// they are), deadlines on the tcp_stream beneath (beast::get_lowest_layer), and operations that
// never complete inside their initiating call. Blocking read_some/write_some for tests.
//
// write_some_now/async_flush: a write that does not wait (R3). As the proxy's plain TCP path, an
// intercepted leg writes what the kernel takes at once and awaits only what a full send buffer
// refuses: an asynchronous write whose send needed no waiting still completes through the
// scheduler (Asio posts the speculative send's completion, and Beast's tcp_stream arms and
// cancels its deadline timer), and Boost 1.81's scheduler polls its reactor before each such
// completion.

#include <openssl/ssl.h>

#include <array>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace seccloud::net {

class TlsStream {
 public:
  using next_layer_type = boost::beast::tcp_stream;
  using executor_type = next_layer_type::executor_type;
  using handshake_type = boost::asio::ssl::stream_base::handshake_type;

  // Most bytes one write operation takes from its caller (asio::async_write loops for more).
  static constexpr size_t kMaxWrite = 64 * 1024;
  // Most ciphertext one recv takes: a record's worth at first, kInputSize once a recv filled
  // the buffer (a bulk transfer), so an idle connection holds little.
  static constexpr size_t kInputStart = 17 * 1024;
  static constexpr size_t kInputSize = 64 * 1024;

  // A new SSL of `ctx` (which it references) over `next`. Throws std::bad_alloc when OpenSSL
  // cannot allocate, as asio::ssl::stream does.
  TlsStream(next_layer_type next, SSL_CTX* ctx);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() { return next_.get_executor(); }
  next_layer_type& next_layer() { return next_; }
  const next_layer_type& next_layer() const { return next_; }
  SSL* native_handle() { return ssl_; }

  // What one call into OpenSSL left the operation to do (as asio's ssl engine).
  enum class Want {
    kNothing,         // complete with the result
    kInput,           // read from the transport, then call again
    kOutput,          // send the pending output, then complete
    kOutputAndRetry,  // send the pending output, then call again
  };

  // The OpenSSL side of the operations, without I/O. Each sets `ec` and `n` for completion.
  Want DoRead(boost::asio::mutable_buffer buffer, boost::system::error_code& ec, size_t& n);
  Want DoWrite(const boost::asio::const_buffer* buffers, size_t count,
               boost::system::error_code& ec, size_t& n);
  Want DoHandshake(handshake_type type, boost::system::error_code& ec);
  Want DoShutdown(boost::system::error_code& ec);

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, size_t)>(
        IoOp<ReadAction>{*this, ReadAction{FirstBuffer(buffers)}}, token, get_executor());
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    WriteAction action;
    Gather(buffers, action);
    return boost::asio::async_compose<Token, void(boost::system::error_code, size_t)>(
        IoOp<WriteAction>{*this, action}, token, get_executor());
  }

  template <class Token>
  auto async_handshake(handshake_type type, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(
        IoOp<HandshakeAction>{*this, HandshakeAction{type}}, token, get_executor());
  }

  // Sends a close_notify and waits for the peer's (or the transport's end, or the deadline).
  template <class Token>
  auto async_shutdown(Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(
        IoOp<ShutdownAction>{*this, ShutdownAction{}}, token, get_executor());
  }

  // Encrypts what `buffers` hold (as async_write_some: up to kMaxWrite bytes) and sends the
  // records with one send that does not wait (MSG_DONTWAIT, MSG_NOSIGNAL). Returns the plaintext
  // bytes taken; a tail of their records the kernel did not take stays pending and goes first,
  // before anything else written. would_block, and nothing taken, while such a tail cannot go
  // now, while an operation holds the transport's write side, or when OpenSSL must talk to the
  // peer first (the asynchronous write then does it all). Other errors as async_write_some's.
  // Not while an asynchronous write is outstanding; a read may be.
  template <class ConstBufferSequence>
  size_t write_some_now(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    WriteAction action;
    Gather(buffers, action);
    return WriteNow(action, ec);
  }

  // Sends what write_some_now left pending (completes, never inside this call, at once when
  // nothing is). Completes with (error_code, 0).
  template <class Token>
  auto async_flush(Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, size_t)>(
        IoOp<FlushAction>{*this, FlushAction{}}, token, get_executor());
  }

  // Blocking variants over the tcp_stream's blocking socket (tests and tools).
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    ReadAction action{FirstBuffer(buffers)};
    return RunBlocking(action, ec);
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    WriteAction action;
    Gather(buffers, action);
    return RunBlocking(action, ec);
  }
  void handshake(handshake_type type, boost::system::error_code& ec) {
    HandshakeAction action{type};
    RunBlocking(action, ec);
  }

  // Called by the BIO (tls_stream.cc).
  int BioRead(char* out, int len);
  int BioWrite(const char* data, int len);
  size_t input_pending() const { return in_end_ - in_begin_; }
  size_t output_pending() const { return out_.size(); }

 private:
  // kSized: the operation completes with (error_code, bytes); otherwise with (error_code).
  struct ReadAction {
    static constexpr bool kSized = true;
    boost::asio::mutable_buffer buffer;
    Want operator()(TlsStream& s, boost::system::error_code& ec, size_t& n) {
      return s.DoRead(buffer, ec, n);
    }
  };
  struct WriteAction {
    static constexpr bool kSized = true;
    static constexpr size_t kMaxBuffers = 16;
    std::array<boost::asio::const_buffer, kMaxBuffers> buffers{};
    size_t count = 0;
    Want operator()(TlsStream& s, boost::system::error_code& ec, size_t& n) {
      return s.DoWrite(buffers.data(), count, ec, n);
    }
  };
  struct FlushAction {
    static constexpr bool kSized = true;
    Want operator()(TlsStream& s, boost::system::error_code& ec, size_t& n) {
      ec = {};
      n = 0;
      return s.output_pending() > 0 ? Want::kOutput : Want::kNothing;
    }
  };
  struct HandshakeAction {
    static constexpr bool kSized = false;
    handshake_type type;
    Want operator()(TlsStream& s, boost::system::error_code& ec, size_t& n) {
      n = 0;
      return s.DoHandshake(type, ec);
    }
  };
  struct ShutdownAction {
    static constexpr bool kSized = false;
    Want operator()(TlsStream& s, boost::system::error_code& ec, size_t& n) {
      n = 0;
      return s.DoShutdown(ec);
    }
  };

  template <class MutableBufferSequence>
  static boost::asio::mutable_buffer FirstBuffer(const MutableBufferSequence& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::mutable_buffer b(*it);
      if (b.size() > 0) return b;
    }
    return {};
  }
  // Up to kMaxBuffers non-empty buffers and kMaxWrite bytes, in order.
  template <class ConstBufferSequence>
  static void Gather(const ConstBufferSequence& buffers, WriteAction& action) {
    size_t total = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) &&
         action.count < WriteAction::kMaxBuffers && total < kMaxWrite;
         ++it) {
      boost::asio::const_buffer b(*it);
      if (b.size() == 0) continue;
      if (b.size() > kMaxWrite - total) b = boost::asio::const_buffer(b.data(), kMaxWrite - total);
      action.buffers[action.count++] = b;
      total += b.size();
    }
  }

  // The transport read into the input buffer (compacted when drained).
  boost::asio::mutable_buffer InputSpace();
  void InputArrived(size_t n) {
    in_end_ += n;
    in_full_ = in_end_ == in_size_;
  }
  // An EOF from the transport: eof if the peer's close_notify came, stream_truncated otherwise.
  boost::system::error_code MapEof() const;
  // Moves the pending output to the buffer being sent; returns it.
  boost::asio::const_buffer TakeOutput();
  // The send of TakeOutput's buffer ended, `sent` bytes of it taken; an unsent tail (an error)
  // goes back to the front of the pending output.
  void OutputSent(size_t sent);

  // One outstanding transport read and one transport write at a time: a read (or write)
  // operation that needs the transport while the other operation holds it waits on the lock's
  // timer, as asio's ssl stream does.
  struct Lock {
    explicit Lock(const executor_type& ex) : wake(ex) {}
    bool held = false;
    int waiters = 0;
    boost::asio::steady_timer wake;
  };
  static bool TryAcquire(Lock& lock) {
    if (lock.held) return false;
    lock.held = true;
    return true;
  }
  static void Release(Lock& lock) {
    lock.held = false;
    if (lock.waiters > 0) lock.wake.cancel();
  }
  template <class Self>
  static void WaitFor(Lock& lock, Self&& self) {
    if (lock.waiters++ == 0) lock.wake.expires_at(boost::asio::steady_timer::time_point::max());
    lock.wake.async_wait(std::forward<Self>(self));
  }

  template <class Action>
  struct IoOp {
    TlsStream& s;
    Action action;
    enum State { kStart, kReadDone, kWriteDone, kReadWaited, kWriteWaited, kFinish };
    State state = kStart;
    Want want = Want::kNothing;
    boost::system::error_code result_ec{};
    size_t result_n = 0;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, size_t bytes = 0) {
      // The first step runs inside the initiating call, where the operation may not complete.
      const bool inside_initiation = state == kStart;
      switch (state) {
        case kStart:
          break;
        case kReadDone:
          Release(s.read_lock_);
          if (ec == boost::asio::error::eof) ec = s.MapEof();
          if (ec) return Complete(self, ec, 0);
          s.InputArrived(bytes);
          break;
        case kWriteDone:
          Release(s.write_lock_);
          s.OutputSent(bytes);
          if (ec) return Complete(self, ec, 0);
          if (want == Want::kOutput) return Complete(self, result_ec, result_n);
          break;
        case kReadWaited:
          --s.read_lock_.waiters;
          return Input(self);
        case kWriteWaited:
          --s.write_lock_.waiters;
          return Output(self);
        case kFinish:
          return Complete(self, result_ec, result_n);
      }
      want = action(s, result_ec, result_n);
      switch (want) {
        case Want::kInput:
          return Input(self);
        case Want::kOutput:
        case Want::kOutputAndRetry:
          return Output(self);
        case Want::kNothing:
          if (inside_initiation) {
            state = kFinish;
            return boost::asio::post(s.get_executor(), std::move(self));
          }
          return Complete(self, result_ec, result_n);
      }
    }

    template <class Self>
    static void Complete(Self& self, boost::system::error_code ec, size_t n) {
      if constexpr (Action::kSized)
        self.complete(ec, n);
      else
        self.complete(ec);
    }

    template <class Self>
    void Input(Self& self) {
      if (!TryAcquire(s.read_lock_)) {
        state = kReadWaited;
        return WaitFor(s.read_lock_, std::move(self));
      }
      state = kReadDone;
      s.next_.async_read_some(s.InputSpace(), std::move(self));
    }
    template <class Self>
    void Output(Self& self) {
      if (!TryAcquire(s.write_lock_)) {
        state = kWriteWaited;
        return WaitFor(s.write_lock_, std::move(self));
      }
      state = kWriteDone;
      boost::asio::async_write(s.next_, s.TakeOutput(), std::move(self));
    }
  };

  template <class Action>
  size_t RunBlocking(Action& action, boost::system::error_code& ec);

  size_t WriteNow(const WriteAction& action, boost::system::error_code& ec);
  // One non-waiting send of the pending output (out_); true when none is left. `ec`: the
  // transport's error, if it failed.
  bool SendPendingNow(boost::system::error_code& ec);

  next_layer_type next_;
  SSL* ssl_ = nullptr;
  // Ciphertext received and not yet given to OpenSSL: in_[in_begin_, in_end_).
  std::unique_ptr<uint8_t[]> in_;
  size_t in_size_ = 0;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  bool in_full_ = false;  // the last recv filled the buffer
  // Ciphertext OpenSSL produced (out_) and the part being sent (sending_). Both keep their
  // capacity (one write's records, about kMaxWrite).
  std::vector<uint8_t> out_;
  std::vector<uint8_t> sending_;
  // Plaintext of small buffers packed into one record (DoWrite).
  std::vector<uint8_t> pack_;
  // An error met by a read after it had already produced bytes: the next read reports it.
  boost::system::error_code read_error_;
  Lock read_lock_;
  Lock write_lock_;
};

template <class Action>
size_t TlsStream::RunBlocking(Action& action, boost::system::error_code& ec) {
  boost::system::error_code result_ec;
  size_t n = 0;
  for (;;) {
    const Want want = action(*this, result_ec, n);
    if (want == Want::kOutput || want == Want::kOutputAndRetry) {
      const size_t sent = boost::asio::write(next_.socket(), TakeOutput(), ec);
      OutputSent(sent);
      if (ec) return 0;
      if (want == Want::kOutput) break;
      continue;
    }
    if (want == Want::kInput) {
      const size_t got = next_.socket().read_some(InputSpace(), ec);
      if (ec == boost::asio::error::eof) ec = MapEof();
      if (ec) return 0;
      InputArrived(got);
      continue;
    }
    break;
  }
  ec = result_ec;
  return n;
}

}  // namespace seccloud::net
