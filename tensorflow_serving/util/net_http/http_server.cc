#include "tensorflow_serving/util/net_http/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <fstream>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tensorflow_serving/util/net_http/compression/gzip_zlib.h"

namespace tensorflow {
namespace serving {
namespace net_http {
namespace {

using Clock = std::chrono::steady_clock;
using Nanos = int64_t;  // steady clock time

// Bodies up to this size are read without a slot; larger ones hold one.
constexpr size_t kUnmeteredBodyBytes = 64 * 1024;
// Bytes a second that extend a body's or reply's deadline.
constexpr int64_t kMinRate = 64 * 1024;
constexpr size_t kRecvBytes = 256 * 1024;
constexpr size_t kHeadRecvBytes = 64 * 1024;
// Bytes one connection may read in one turn before others get theirs.
constexpr size_t kTurnBytes = 4 * 1024 * 1024;
// After a reply that closes the connection, what the client still sends is
// read and dropped for a while, so that the reply is not lost to a reset.
constexpr Nanos kLingerNanos = 2'000'000'000;
constexpr size_t kLingerBytes = 4 * 1024 * 1024;
// At the connection cap, a connection waiting this long for a request is
// closed to admit a new one; a younger one is spared.
constexpr Nanos kEvictAfterNanos = 1'000'000'000;
constexpr int kAcceptBatch = 64;
constexpr Nanos kAcceptPauseNanos = 50'000'000;
constexpr int kBacklog = 1024;
// Descriptors kept back from the connection cap for gRPC, models and logs.
constexpr rlim_t kReservedDescriptors = 256;
constexpr Nanos kNoDeadline = std::numeric_limits<Nanos>::max();
// How soon the loop looks for a reply that came without waking it, and the
// most it backs off to while a handler runs.
constexpr Nanos kFirstMailCheckNanos = 20'000'000;
constexpr Nanos kMaxMailCheckNanos = 1'000'000'000;

Nanos Now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

void LogWarning(const char* format, ...) __attribute__((format(printf, 1, 2)));
void LogWarning(const char* format, ...) {
  char message[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  std::fprintf(stderr, "W net_http: %s\n", message);
}

timeval ToTimeval(Nanos nanos) {
  if (nanos < 0) nanos = 0;
  timeval tv;
  tv.tv_sec = static_cast<time_t>(nanos / 1'000'000'000);
  tv.tv_usec = static_cast<suseconds_t>((nanos % 1'000'000'000) / 1000);
  return tv;
}

std::string PeerName(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
    return absl::StrCat("[", host, "]:", port);
  }
  if (addr.ss_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
    port = ntohs(in4->sin_port);
  }
  return absl::StrCat(host, ":", port);
}

bool NeedsGunzip(const HeaderList& headers) {
  // As upstream: the first Content-Encoding header mentions gzip.
  const std::string* encoding = FindHeader(headers, "Content-Encoding");
  return encoding != nullptr && encoding->find("gzip") != std::string::npos;
}

absl::Status BindError(const std::string& where, int err) {
  return absl::UnavailableError(
      absl::StrCat("cannot listen on ", where, ": ", std::strerror(err)));
}

// A listening socket on `host`, or on "::" (IPv4 and IPv6, as upstream
// binds) when it is empty, falling back to 0.0.0.0 on a host without IPv6.
absl::Status Listen(const std::string& host, int port, int* fd_out, int* port_out) {
  std::string where = absl::StrCat(host.empty() ? "[::]" : host, ":", port);
  int fd = -1;
  int one = 1;
  if (host.empty()) {
    fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int zero = 0;
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_any;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    if (fd >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) == 0 &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
        bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      // bound on both families
    } else {
      int err = errno;
      if (fd >= 0) close(fd);
      fd = -1;
      if (err != EAFNOSUPPORT && err != EADDRNOTAVAIL && err != EPROTONOSUPPORT) {
        return BindError(where, err);
      }
    }
  }
  if (fd < 0) {
    std::string name = host.empty() ? "0.0.0.0" : host;
    addrinfo hints{};
    hints.ai_family = name.find(':') != std::string::npos ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* info = nullptr;
    int rc = getaddrinfo(name.c_str(), std::to_string(port).c_str(), &hints, &info);
    if (rc != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot listen on ", where, ": ", gai_strerror(rc)));
    }
    fd = socket(info->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
                    bind(fd, info->ai_addr, info->ai_addrlen) != 0)) {
      err = errno;
      close(fd);
      fd = -1;
    }
    freeaddrinfo(info);
    if (fd < 0) return BindError(where, err);
  }
  if (listen(fd, kBacklog) != 0) {
    int err = errno;
    close(fd);
    return BindError(where, err);
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  *port_out = ntohs(bound.ss_family == AF_INET6
                        ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  *fd_out = fd;
  return absl::OkStatus();
}

// A connection's socket as the threads that reply may write to it: the loop
// closes it only under `mu`, so a reply never lands on a reused descriptor.
struct Wire {
  std::mutex mu;
  int fd = -1;
  // Guarded by the mailbox's lock: whether a reply written in full may reach
  // the loop without waking it (see Mailbox).
  bool quiet = false;
};

// A reply on its way from any thread to the loop. Either the response, or
// (written) its bytes, which the replying thread has already sent in part
// or in full on a keep-alive connection.
struct Completion {
  uint64_t conn_id = 0;
  uint64_t generation = 0;
  bool held_slot = false;
  HttpResponse response;
  bool written = false;
  std::string out_head;
  std::string out_body;
  size_t out_done = 0;
  bool write_failed = false;
  Nanos written_at = 0;
};

// Replies and calls for the loop. Waking the loop costs a context switch,
// a quarter of what a request costs when it is the only one in flight; so
// such a request's reply is written by its own thread, and when sent in
// full on a keep-alive connection whose loop expects nothing else from it,
// waits unannounced for the loop's next turn: the connection's next
// request, or its mail check timer.
class Mailbox {
 public:
  Mailbox() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Mailbox() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

  void Post(Completion completion, Wire* wire) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    bool quiet = completion.written && wire != nullptr && wire->quiet &&
                 completion.out_done == completion.out_head.size() + completion.out_body.size();
    completions_.push_back(std::move(completion));
    if (!quiet) Wake();
  }
  void Call(std::function<void()> call) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    calls_.push_back(std::move(call));
    Wake();
  }
  // Whether anything waits; the loop may ask without taking it.
  bool Pending() {
    std::lock_guard<std::mutex> lock(mu_);
    return !completions_.empty() || !calls_.empty();
  }
  void Take(std::deque<Completion>* completions, std::deque<std::function<void()>>* calls) {
    std::lock_guard<std::mutex> lock(mu_);
    if (woken_) {
      uint64_t count;
      while (read(fd_, &count, sizeof(count)) < 0 && errno == EINTR) {
      }
      woken_ = false;
    }
    completions->swap(completions_);
    calls->swap(calls_);
  }
  bool Quiet(Wire* wire) {
    std::lock_guard<std::mutex> lock(mu_);
    return wire->quiet;
  }
  void SetQuiet(Wire* wire, bool quiet) {
    std::lock_guard<std::mutex> lock(mu_);
    wire->quiet = quiet;
  }
  // Later posts are dropped: the loop is gone.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    completions_.clear();
    calls_.clear();
  }

  // Set once the server stops: replies then close their connections.
  std::atomic<bool> stopping{false};

 private:
  void Wake() {
    if (woken_) return;
    woken_ = true;
    uint64_t one = 1;
    while (write(fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
  }
  const int fd_;
  std::mutex mu_;
  bool closed_ = false;
  bool woken_ = false;
  std::deque<Completion> completions_;
  std::deque<std::function<void()>> calls_;
};

// What a reply needs to know of its request to write itself.
struct ReplyContext {
  uint64_t conn_id = 0;
  uint64_t generation = 0;
  bool held_slot = false;
  int major = 1;
  std::string minor;
  bool head_method = false;
  bool keep_alive = true;
  std::shared_ptr<Wire> wire;
};

// One request's reply, owned by every copy of its ReplyFn.
class ReplyState {
 public:
  ReplyState(std::shared_ptr<Mailbox> mailbox, ReplyContext context)
      : mailbox_(std::move(mailbox)), context_(std::move(context)) {}
  ~ReplyState() {
    // A handler that dropped its reply still gets an answer, and its slot
    // and in-flight count back.
    if (!sent_.load(std::memory_order_relaxed)) Send(ErrorResponse(500));
  }
  void Send(HttpResponse response) {
    if (sent_.exchange(true)) return;
    Completion completion;
    completion.conn_id = context_.conn_id;
    completion.generation = context_.generation;
    completion.held_slot = context_.held_slot;
    bool close = response.close || !context_.keep_alive || mailbox_->stopping.load();
    Wire* wire = context_.wire.get();
    if (close || !mailbox_->Quiet(wire)) {
      // The loop writes it: closing needs the loop (shutdown, lingering),
      // and when it is busy with other requests anyway, replies written
      // there in turn serve more of them (measured: 35,000-43,000 against
      // 15,000-23,000 req/s at c=32).
      completion.response = std::move(response);
      mailbox_->Post(std::move(completion), nullptr);
      return;
    }
    // Written here, at once: the loop need not wake up to write it.
    completion.written = true;
    completion.out_head = ResponseHead(context_.major, context_.minor, response.status,
                                       response.headers, response.body.size(), false);
    if (!context_.head_method) completion.out_body = std::move(response.body);
    {
      std::lock_guard<std::mutex> lock(wire->mu);
      if (wire->fd >= 0) {
        iovec iov[2] = {{completion.out_head.data(), completion.out_head.size()},
                        {completion.out_body.data(), completion.out_body.size()}};
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = completion.out_body.empty() ? 1 : 2;
        ssize_t n;
        do {
          n = sendmsg(wire->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);
        if (n >= 0) {
          completion.out_done = static_cast<size_t>(n);
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
          completion.write_failed = true;
        }
      }
    }
    completion.written_at = Now();
    mailbox_->Post(std::move(completion), wire);
  }

 private:
  std::shared_ptr<Mailbox> mailbox_;
  const ReplyContext context_;
  std::atomic<bool> sent_{false};
};

class WorkerPool {
 public:
  explicit WorkerPool(int num_threads) {
    for (int i = 0; i < num_threads; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~WorkerPool() {
    Stop();
    for (std::thread& thread : threads_) thread.join();
  }
  void Schedule(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }
  // Drops tasks not started; running ones finish.
  void Stop() {
    std::deque<std::function<void()>> dropped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      dropped.swap(tasks_);
    }
    cv_.notify_all();
  }

 private:
  void Work() {
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopped_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
};

enum class State {
  kHead,       // waiting for (the rest of) a request head
  kWaitSlot,   // a large body waits for a slot
  kBody,       // reading a body
  kProcessing, // a handler has the request
  kWriting,    // sending a reply (or a 100 Continue)
  kLinger,     // reply sent, dropping what the client still sends
  kClosed,
};

struct Conn {
  uint64_t id = 0;
  int fd = -1;
  std::shared_ptr<Wire> wire;
  std::string peer;
  State state = State::kHead;
  HttpServer::Core* core = nullptr;
  event read_ev;
  event write_ev;
  event timer_ev;
  event kick_ev;
  bool reading = false;
  bool writing = false;
  bool write_blocked = false;
  bool peer_closed = false;

  std::string inbuf;
  size_t scan = 0;
  bool started = false;
  std::optional<RequestHead> head;
  std::string body;
  int64_t body_len = 0;
  std::optional<ChunkedDecoder> decoder;
  bool expect_continue = false;

  std::string out_head;
  std::string out_body;
  size_t out_done = 0;
  bool continue_body = false;  // the write is a 100 Continue: back to the body
  bool close_after = false;
  bool keep_alive = true;

  Nanos phase_start = 0;
  int64_t progress = 0;
  Nanos deadline = kNoDeadline;
  Nanos scheduled = kNoDeadline;  // when the timer event fires, if pending
  Nanos mail_check = 0;           // while a quiet reply may be waiting
  Nanos write_finished_at = 0;

  bool in_flight = false;
  bool slot = false;
  bool waiting_slot = false;
  bool processing = false;
  uint64_t generation = 0;

  // The eviction order: connections in kHead, oldest first.
  Conn* idle_prev = nullptr;
  Conn* idle_next = nullptr;
  bool idle = false;
};

}  // namespace

HttpResponse ErrorResponse(int status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  ErrorPage(status, message, &response.headers, &response.body);
  response.close = true;
  return response;
}

struct HttpServer::Core {
  Core(const HttpServerOptions& opts, RequestHandler h)
      : options(opts),
        handler(std::move(h)),
        mailbox(std::make_shared<Mailbox>()),
        read_timeout(opts.read_timeout_ms * 1'000'000),
        free_slots(opts.num_threads) {
    stat_free_slots = opts.num_threads;
  }
  ~Core();

  // Setup and teardown.
  absl::Status Init(int listen_fd);
  void Run();
  void BeginStop();
  void Shutdown();

  // Loop callbacks.
  static void OnAccept(evutil_socket_t, short, void* arg);
  static void OnResumeAccept(evutil_socket_t, short, void* arg);
  static void OnMail(evutil_socket_t, short, void* arg);
  static void OnReadable(evutil_socket_t, short, void* arg);
  static void OnWritable(evutil_socket_t, short, void* arg);
  static void OnTimer(evutil_socket_t, short, void* arg);
  static void OnKick(evutil_socket_t, short, void* arg);

  void AcceptBatch();
  void PauseAccept();
  void ResumeAccept();
  void Admit(int fd, const sockaddr_storage& addr);
  bool Evict();
  void ReadAvailable(Conn* conn);
  void DrainMail();
  void Complete(Completion completion);

  // The state machine; each step returns whether to go on.
  void Advance(Conn* conn);
  bool StepHead(Conn* conn);
  bool StepBody(Conn* conn);
  bool StepWrite(Conn* conn);
  bool StartRequest(Conn* conn);
  void BeginBody(Conn* conn);
  bool ToProcessing(Conn* conn);
  bool Fail(Conn* conn, const ProtocolError& error);
  void BeginWrite(Conn* conn, HttpResponse response);
  bool FinishRequest(Conn* conn);
  void EnterHead(Conn* conn, Nanos since);
  void UpdateInterest(Conn* conn);
  void Unquiet(Conn* conn);
  void SetDeadline(Conn* conn, Nanos when);
  void Expire(Conn* conn);
  void Close(Conn* conn);

  bool AcquireSlot(Conn* conn);
  void ReleaseSlot();
  void IdleAppend(Conn* conn);
  void IdleRemove(Conn* conn);
  void InFlightAdd(int delta);
  void Reap() { graveyard.clear(); }

  const HttpServerOptions options;
  const RequestHandler handler;
  std::shared_ptr<Mailbox> mailbox;
  std::unique_ptr<WorkerPool> workers;
  const Nanos read_timeout;

  event_base* base = nullptr;
  int listen_fd = -1;
  event* listen_ev = nullptr;
  event* resume_ev = nullptr;
  event* mail_ev = nullptr;
  bool listening = false;
  bool accept_paused = false;
  bool stopping = false;
  Nanos last_accept_warning = std::numeric_limits<Nanos>::min();

  uint64_t next_id = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
  std::vector<std::unique_ptr<Conn>> graveyard;
  Conn* idle_head = nullptr;
  Conn* idle_tail = nullptr;
  int64_t free_slots;
  std::deque<uint64_t> slot_waiters;
  std::vector<char> scratch = std::vector<char>(kRecvBytes);

  std::thread loop_thread;
  std::mutex stop_mu;
  bool stopped = false;
  bool drained = true;

  // Read by stats() and Stop() on other threads.
  std::mutex in_flight_mu;
  std::condition_variable in_flight_cv;
  std::atomic<int64_t> stat_in_flight{0};
  std::atomic<int64_t> stat_connections{0};
  std::atomic<int64_t> stat_free_slots{0};
  std::atomic<int64_t> stat_slot_waiters{0};
};

HttpServer::Core::~Core() {
  if (listen_ev != nullptr) event_free(listen_ev);
  if (resume_ev != nullptr) event_free(resume_ev);
  if (mail_ev != nullptr) event_free(mail_ev);
  if (listen_fd >= 0) close(listen_fd);
  if (base != nullptr) event_base_free(base);
}

absl::Status HttpServer::Core::Init(int fd) {
  listen_fd = fd;
  event_config* config = event_config_new();
  // Only the loop thread touches the base: no locking.
  event_config_set_flag(config, EVENT_BASE_FLAG_NOLOCK);
  base = event_base_new_with_config(config);
  event_config_free(config);
  if (base == nullptr) return absl::InternalError("libevent: cannot create an event base");
  listen_ev = event_new(base, listen_fd, EV_READ | EV_PERSIST, &Core::OnAccept, this);
  resume_ev = evtimer_new(base, &Core::OnResumeAccept, this);
  mail_ev = event_new(base, mailbox->fd(), EV_READ | EV_PERSIST, &Core::OnMail, this);
  if (listen_ev == nullptr || resume_ev == nullptr || mail_ev == nullptr || mailbox->fd() < 0 ||
      event_add(listen_ev, nullptr) != 0 || event_add(mail_ev, nullptr) != 0) {
    return absl::InternalError("libevent: cannot register the listener");
  }
  listening = true;
  return absl::OkStatus();
}

void HttpServer::Core::Run() { event_base_loop(base, 0); }

// ---------------------------------------------------------------- accepting

void HttpServer::Core::OnAccept(evutil_socket_t, short, void* arg) {
  auto* core = static_cast<Core*>(arg);
  core->Reap();
  core->AcceptBatch();
}

void HttpServer::Core::OnResumeAccept(evutil_socket_t, short, void* arg) {
  auto* core = static_cast<Core*>(arg);
  core->Reap();
  core->ResumeAccept();
}

void HttpServer::Core::PauseAccept() {
  if (accept_paused || !listening) return;
  accept_paused = true;
  event_del(listen_ev);
  timeval tv = ToTimeval(kAcceptPauseNanos);
  event_add(resume_ev, &tv);
}

void HttpServer::Core::ResumeAccept() {
  if (!accept_paused || !listening) return;
  accept_paused = false;
  event_del(resume_ev);
  event_add(listen_ev, nullptr);
}

void HttpServer::Core::AcceptBatch() {
  for (int i = 0; i < kAcceptBatch && listening; ++i) {
    if (static_cast<int64_t>(conns.size()) >= options.max_connections && !Evict()) {
      PauseAccept();
      return;
    }
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      Admit(fd, addr);
      continue;
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return;
    if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM) continue;
    Nanos now = Now();
    if (now - last_accept_warning >= 10'000'000'000) {
      last_accept_warning = now;
      LogWarning("HTTP accept failed: %s", std::strerror(err));
    }
    if ((err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) && Evict()) continue;
    PauseAccept();
    return;
  }
}

void HttpServer::Core::Admit(int fd, const sockaddr_storage& addr) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  auto owned = std::make_unique<Conn>();
  Conn* conn = owned.get();
  conn->id = next_id++;
  conn->fd = fd;
  conn->wire = std::make_shared<Wire>();
  conn->wire->fd = fd;
  conn->peer = PeerName(addr);
  conn->core = this;
  event_assign(&conn->read_ev, base, fd, EV_READ | EV_PERSIST, &Core::OnReadable, conn);
  event_assign(&conn->write_ev, base, fd, EV_WRITE | EV_PERSIST, &Core::OnWritable, conn);
  evtimer_assign(&conn->timer_ev, base, &Core::OnTimer, conn);
  event_assign(&conn->kick_ev, base, -1, 0, &Core::OnKick, conn);
  conns.emplace(conn->id, std::move(owned));
  stat_connections.store(static_cast<int64_t>(conns.size()), std::memory_order_relaxed);
  EnterHead(conn, Now());
  UpdateInterest(conn);
}

bool HttpServer::Core::Evict() {
  Nanos now = Now();
  for (Conn* conn = idle_head; conn != nullptr; conn = conn->idle_next) {
    if (now - conn->phase_start < kEvictAfterNanos) return false;  // the rest are younger
    int unread = 0;
    if (ioctl(conn->fd, FIONREAD, &unread) == 0 && unread > 0) continue;  // its request came
    Close(conn);
    return true;
  }
  return false;
}

// ------------------------------------------------------------ the mailbox

void HttpServer::Core::OnMail(evutil_socket_t, short, void* arg) {
  auto* core = static_cast<Core*>(arg);
  core->Reap();
  core->DrainMail();
}

void HttpServer::Core::DrainMail() {
  std::deque<Completion> completions;
  std::deque<std::function<void()>> calls;
  mailbox->Take(&completions, &calls);
  for (Completion& completion : completions) Complete(std::move(completion));
  for (auto& call : calls) call();
}

void HttpServer::Core::Complete(Completion completion) {
  auto it = conns.find(completion.conn_id);
  Conn* conn = it == conns.end() ? nullptr : it->second.get();
  if (conn == nullptr || conn->generation != completion.generation ||
      conn->state != State::kProcessing) {
    // Closed meanwhile: the slot the request held is free again.
    if (completion.held_slot) ReleaseSlot();
    return;
  }
  conn->processing = false;
  if (conn->slot) {
    conn->slot = false;
    ReleaseSlot();
  }
  if (!completion.written) {
    BeginWrite(conn, std::move(completion.response));
  } else if (completion.write_failed) {
    Close(conn);
    return;
  } else {
    // Sent by the replying thread, in full or in part: the rest from here.
    conn->out_head = std::move(completion.out_head);
    conn->out_body = std::move(completion.out_body);
    conn->out_done = completion.out_done;
    conn->continue_body = false;
    conn->close_after = false;
    conn->state = State::kWriting;
    conn->phase_start = completion.written_at;
    conn->progress = static_cast<int64_t>(completion.out_done);
    bool all_sent = conn->out_done == conn->out_head.size() + conn->out_body.size();
    conn->write_finished_at = all_sent ? completion.written_at : 0;
    SetDeadline(conn, conn->phase_start + read_timeout + conn->progress * 1'000'000'000 / kMinRate);
  }
  Advance(conn);
}

// ------------------------------------------------------------- socket I/O

void HttpServer::Core::OnReadable(evutil_socket_t, short, void* arg) {
  auto* conn = static_cast<Conn*>(arg);
  Core* core = conn->core;
  core->Reap();
  // A quiet reply to this connection's last request may be waiting.
  if (conn->state == State::kProcessing && core->mailbox->Pending()) core->DrainMail();
  if (conn->state != State::kClosed) core->ReadAvailable(conn);
}

void HttpServer::Core::OnWritable(evutil_socket_t, short, void* arg) {
  auto* conn = static_cast<Conn*>(arg);
  conn->core->Reap();
  conn->write_blocked = false;
  conn->core->Advance(conn);
}

void HttpServer::Core::OnKick(evutil_socket_t, short, void* arg) {
  auto* conn = static_cast<Conn*>(arg);
  conn->core->Reap();
  conn->core->Advance(conn);
}

void HttpServer::Core::ReadAvailable(Conn* conn) {
  size_t turn = 0;
  while (turn < kTurnBytes && conn->state != State::kClosed) {
    size_t cap;
    switch (conn->state) {
      case State::kHead:
        cap = kHeadRecvBytes;
        break;
      case State::kBody:
        cap = kRecvBytes;
        if (!conn->decoder && conn->inbuf.empty()) {
          // Straight into the body: never past it, into the next request.
          cap = std::min<size_t>(cap, conn->body_len - conn->body.size());
        }
        break;
      case State::kLinger:
        cap = kRecvBytes;
        break;
      case State::kProcessing:
      case State::kWriting:
        // The next requests may come meanwhile (pipelining): a head's worth.
        cap = conn->inbuf.size() < kMaxHeadBytes ? kMaxHeadBytes - conn->inbuf.size() : 0;
        break;
      default:
        cap = 0;
    }
    if (cap == 0 || conn->peer_closed) break;
    ssize_t n = recv(conn->fd, scratch.data(), cap, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Close(conn);
      return;
    }
    if (n == 0) {
      if (conn->state == State::kProcessing || conn->state == State::kWriting) {
        // Its reply may still be read (a half-close); nothing follows it.
        conn->peer_closed = true;
        Unquiet(conn);
        break;
      }
      Close(conn);
      return;
    }
    turn += n;
    std::string_view data(scratch.data(), static_cast<size_t>(n));
    switch (conn->state) {
      case State::kLinger:
        conn->progress += n;
        if (static_cast<size_t>(conn->progress) >= kLingerBytes) {
          Close(conn);
          return;
        }
        continue;
      case State::kBody:
        if (!conn->decoder && conn->inbuf.empty()) {
          conn->body.append(data);
        } else {
          conn->inbuf.append(data);
        }
        conn->progress += n;
        SetDeadline(conn, conn->phase_start + read_timeout +
                              conn->progress * 1'000'000'000 / kMinRate);
        break;
      case State::kHead:
        conn->inbuf.append(data);
        if (!conn->started) {
          // The request starts with its first byte: its head has the read
          // timeout from now, whatever the idle time before.
          conn->started = true;
          SetDeadline(conn, Now() + read_timeout);
        }
        break;
      default:
        conn->inbuf.append(data);
        Unquiet(conn);
    }
    Advance(conn);
    if (static_cast<size_t>(n) < cap) break;  // drained, most likely
  }
  if (conn->state != State::kClosed) UpdateInterest(conn);
}

void HttpServer::Core::UpdateInterest(Conn* conn) {
  bool want_read = false;
  switch (conn->state) {
    case State::kHead:
    case State::kBody:
    case State::kLinger:
      want_read = true;
      break;
    case State::kProcessing:
    case State::kWriting:
      want_read = !conn->peer_closed && conn->inbuf.size() < kMaxHeadBytes;
      break;
    default:
      break;
  }
  bool want_write = conn->state == State::kWriting && conn->write_blocked;
  if (want_read != conn->reading) {
    if (want_read) {
      event_add(&conn->read_ev, nullptr);
    } else {
      event_del(&conn->read_ev);
    }
    conn->reading = want_read;
  }
  if (want_write != conn->writing) {
    if (want_write) {
      event_add(&conn->write_ev, nullptr);
    } else {
      event_del(&conn->write_ev);
    }
    conn->writing = want_write;
  }
}

void HttpServer::Core::Unquiet(Conn* conn) {
  if (conn->state != State::kProcessing) return;
  // Bytes came while the handler runs: its reply must wake the loop, which
  // has them to parse; one that came quietly already is taken now.
  mailbox->SetQuiet(conn->wire.get(), false);
  if (mailbox->Pending()) event_active(mail_ev, EV_READ, 1);
}

// -------------------------------------------------------- the state machine

void HttpServer::Core::Advance(Conn* conn) {
  bool more = true;
  while (more) {
    switch (conn->state) {
      case State::kHead:
        more = StepHead(conn);
        break;
      case State::kBody:
        more = StepBody(conn);
        break;
      case State::kWaitSlot:
        more = conn->slot;
        if (more) {
          // The wait was the server's, not the client's.
          BeginBody(conn);
        }
        break;
      case State::kWriting:
        more = StepWrite(conn);
        break;
      default:
        more = false;
    }
  }
  if (conn->state != State::kClosed) UpdateInterest(conn);
}

bool HttpServer::Core::StepHead(Conn* conn) {
  size_t skip = SkipBlankLines(conn->inbuf, 0);
  if (skip > 0) {
    conn->inbuf.erase(0, skip);
    conn->scan = 0;
  }
  if (conn->inbuf.empty()) {
    if (conn->peer_closed || stopping) Close(conn);
    return false;
  }
  RequestHead head;
  size_t end = 0;
  ProtocolError error;
  switch (ParseHead(conn->inbuf, &conn->scan, &head, &end, &error)) {
    case ParseResult::kError:
      return Fail(conn, error);
    case ParseResult::kIncomplete:
      // Stopping: only a request that has arrived whole is served.
      if (conn->peer_closed || stopping) Close(conn);
      return false;
    case ParseResult::kComplete:
      break;
  }
  conn->inbuf.erase(0, end);
  conn->scan = 0;
  conn->head = std::move(head);
  return StartRequest(conn);
}

bool HttpServer::Core::StartRequest(Conn* conn) {
  conn->in_flight = true;
  InFlightAdd(1);
  IdleRemove(conn);
  const RequestHead& head = *conn->head;
  conn->keep_alive = head.keep_alive;
  conn->expect_continue = head.expect_continue;
  conn->body.clear();
  if (head.chunked) {
    conn->decoder.emplace(options.max_body_bytes);
  } else if (head.content_length > 0) {
    if (head.content_length > options.max_body_bytes) {
      return Fail(conn, BodyTooLarge(options.max_body_bytes));
    }
    conn->body_len = head.content_length;
  } else {
    return ToProcessing(conn);
  }
  BeginBody(conn);
  return true;
}

void HttpServer::Core::BeginBody(Conn* conn) {
  conn->state = State::kBody;
  conn->phase_start = Now();
  conn->progress = 0;
  SetDeadline(conn, conn->phase_start + read_timeout);
}

bool HttpServer::Core::StepBody(Conn* conn) {
  bool complete;
  if (conn->decoder) {
    size_t consumed = 0;
    ProtocolError error;
    if (!conn->decoder->Feed(conn->inbuf, &consumed, &conn->body, &error)) {
      return Fail(conn, error);
    }
    conn->inbuf.erase(0, consumed);
    complete = conn->decoder->done();
  } else {
    size_t need = conn->body_len - conn->body.size();
    size_t take = std::min(need, conn->inbuf.size());
    if (take > 0) {
      conn->body.append(conn->inbuf, 0, take);
      conn->inbuf.erase(0, take);
    }
    complete = take == need;
  }
  if (complete) return ToProcessing(conn);
  bool needs_slot = conn->decoder ? conn->body.size() + conn->inbuf.size() >= kUnmeteredBodyBytes
                                  : static_cast<size_t>(conn->body_len) > kUnmeteredBodyBytes;
  if (!conn->slot && needs_slot && !AcquireSlot(conn)) return false;
  if (!conn->decoder && conn->body.capacity() < static_cast<size_t>(conn->body_len)) {
    // Its whole length at once, not twice its size while it grows: it holds
    // a slot, or is small.
    conn->body.reserve(conn->body_len);
  }
  if (conn->expect_continue) {
    conn->expect_continue = false;
    if (conn->inbuf.empty() && conn->body.empty()) {
      conn->out_head.assign(kContinue);
      conn->out_body.clear();
      conn->out_done = 0;
      conn->continue_body = true;
      conn->state = State::kWriting;
      return true;
    }
  }
  return false;
}

bool HttpServer::Core::ToProcessing(Conn* conn) {
  conn->state = State::kProcessing;
  conn->processing = true;
  conn->generation++;
  RequestHead& head = *conn->head;
  ReplyContext context;
  context.conn_id = conn->id;
  context.generation = conn->generation;
  context.held_slot = conn->slot;
  context.major = head.major;
  context.minor = head.minor;
  context.head_method = head.method == "HEAD";
  context.keep_alive = conn->keep_alive;
  context.wire = conn->wire;
  // Quiet when it is the only request in flight and nothing else is
  // expected of the loop for this connection until its next request; the
  // mail check bounds how long the loop may take to notice the reply.
  bool quiet = !conn->slot && conn->keep_alive && conn->inbuf.empty() && !conn->peer_closed &&
               !stopping && stat_in_flight.load(std::memory_order_relaxed) == 1;
  mailbox->SetQuiet(conn->wire.get(), quiet);
  if (quiet) {
    conn->mail_check = kFirstMailCheckNanos;
    SetDeadline(conn, Now() + conn->mail_check);
  } else {
    conn->deadline = kNoDeadline;
  }
  HttpRequest request;
  request.method = head.method;
  request.uri_path = head.UriPath();
  request.headers = std::move(head.headers);
  request.body = std::move(conn->body);
  request.peer = conn->peer;
  conn->body = std::string();
  conn->decoder.reset();
  auto reply = std::make_shared<ReplyState>(mailbox, std::move(context));
  // Only the loop writes these; the worker reads its own copies.
  const int64_t max_body = options.max_body_bytes;
  const RequestHandler* run = &handler;
  workers->Schedule([run, max_body, reply, request = std::move(request)]() mutable {
    if (!request.body.empty() && NeedsGunzip(request.headers)) {
      std::string inflated;
      switch (GunzipBody(request.body, max_body, &inflated)) {
        case GunzipResult::kOk:
          request.body = std::move(inflated);
          break;
        case GunzipResult::kTooLarge:
          reply->Send(ErrorResponse(413, BodyTooLarge(max_body).message));
          return;
        case GunzipResult::kInvalid:
          // Upstream's handlers then read no body at all.
          request.body.clear();
          break;
      }
    }
    std::string method = request.method;
    std::string uri_path = request.uri_path;
    try {
      (*run)(std::move(request),
             [reply](HttpResponse response) { reply->Send(std::move(response)); });
    } catch (const std::exception& e) {
      LogWarning("HTTP handler failed for %s %s: %s", method.c_str(), uri_path.c_str(), e.what());
      reply->Send(ErrorResponse(500));
    } catch (...) {
      LogWarning("HTTP handler failed for %s %s", method.c_str(), uri_path.c_str());
      reply->Send(ErrorResponse(500));
    }
  });
  return false;
}

bool HttpServer::Core::Fail(Conn* conn, const ProtocolError& error) {
  BeginWrite(conn, ErrorResponse(error.status, error.message));
  return true;
}

void HttpServer::Core::BeginWrite(Conn* conn, HttpResponse response) {
  const RequestHead* head = conn->head ? &*conn->head : nullptr;
  bool close = response.close || !conn->keep_alive || stopping || head == nullptr;
  conn->out_head = ResponseHead(head ? head->major : 1, head ? head->minor : "1", response.status,
                                response.headers, response.body.size(), close);
  if (head == nullptr || head->method != "HEAD") {
    conn->out_body = std::move(response.body);
  } else {
    conn->out_body.clear();
  }
  conn->out_done = 0;
  conn->write_finished_at = 0;
  conn->continue_body = false;
  conn->close_after = close;
  conn->state = State::kWriting;
  conn->phase_start = Now();
  conn->progress = 0;
  SetDeadline(conn, conn->phase_start + read_timeout);
}

bool HttpServer::Core::StepWrite(Conn* conn) {
  size_t total = conn->out_head.size() + conn->out_body.size();
  while (conn->out_done < total) {
    iovec iov[2];
    int count = 0;
    size_t done = conn->out_done;
    if (done < conn->out_head.size()) {
      iov[count++] = {conn->out_head.data() + done, conn->out_head.size() - done};
      done = 0;
    } else {
      done -= conn->out_head.size();
    }
    if (done < conn->out_body.size()) {
      iov[count++] = {conn->out_body.data() + done, conn->out_body.size() - done};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    ssize_t n = sendmsg(conn->fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        conn->write_blocked = true;
        return false;
      }
      Close(conn);
      return false;
    }
    conn->out_done += n;
    conn->progress += n;
    if (conn->out_done < total) {
      SetDeadline(conn,
                  conn->phase_start + read_timeout + conn->progress * 1'000'000'000 / kMinRate);
    }
  }
  conn->write_blocked = false;
  conn->out_head.clear();
  conn->out_body = std::string();
  if (conn->write_finished_at == 0) conn->write_finished_at = Now();
  if (conn->continue_body) {
    conn->continue_body = false;
    conn->state = State::kBody;
    return true;
  }
  return FinishRequest(conn);
}

bool HttpServer::Core::FinishRequest(Conn* conn) {
  if (conn->in_flight) {
    conn->in_flight = false;
    InFlightAdd(-1);
  }
  if (conn->slot && !conn->processing) {
    conn->slot = false;
    ReleaseSlot();
  }
  conn->head.reset();
  if (conn->close_after) {
    if (shutdown(conn->fd, SHUT_WR) != 0) {
      Close(conn);
      return false;
    }
    conn->state = State::kLinger;
    conn->inbuf.clear();
    conn->progress = 0;
    SetDeadline(conn, Now() + kLingerNanos);
    if (conn->peer_closed) Close(conn);
    return false;
  }
  EnterHead(conn, conn->write_finished_at);
  return true;
}

void HttpServer::Core::EnterHead(Conn* conn, Nanos since) {
  conn->state = State::kHead;
  // The idle time counts from the reply's last byte, which its thread may
  // have written before the loop took note.
  conn->phase_start = std::min(since, Now());
  // Bytes of the next request that came early start its clock now.
  conn->started = !conn->inbuf.empty();
  conn->scan = 0;
  IdleAppend(conn);
  SetDeadline(conn, conn->phase_start + read_timeout);
}

// ------------------------------------------------------------- deadlines

void HttpServer::Core::SetDeadline(Conn* conn, Nanos when) {
  conn->deadline = when;
  // An earlier timer re-arms itself for the later deadline when it fires:
  // moving a deadline later (every read of a body) costs nothing.
  if (conn->scheduled <= when) return;
  conn->scheduled = when;
  timeval tv = ToTimeval(when - Now());
  event_add(&conn->timer_ev, &tv);
}

void HttpServer::Core::OnTimer(evutil_socket_t, short, void* arg) {
  auto* conn = static_cast<Conn*>(arg);
  Core* core = conn->core;
  core->Reap();
  conn->scheduled = kNoDeadline;
  if (conn->state == State::kProcessing && core->mailbox->Pending()) {
    core->DrainMail();
    if (conn->state == State::kClosed) return;
  }
  if (conn->deadline == kNoDeadline) return;
  Nanos now = Now();
  if (conn->deadline > now) {
    core->SetDeadline(conn, conn->deadline);
    return;
  }
  if (conn->state == State::kProcessing) {
    // Only a mail check: the handler still runs.
    conn->mail_check = std::min(2 * conn->mail_check, kMaxMailCheckNanos);
    core->SetDeadline(conn, now + conn->mail_check);
    return;
  }
  core->Expire(conn);
}

void HttpServer::Core::Expire(Conn* conn) {
  if ((conn->state == State::kHead && !conn->inbuf.empty()) || conn->state == State::kBody) {
    // A request that stopped arriving: say so, without waiting.
    HttpResponse late = ErrorResponse(408, "Request not received in time");
    std::string reply = ResponseHead(1, "1", 408, late.headers, late.body.size(), true) + late.body;
    ssize_t ignored = send(conn->fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
  }
  Close(conn);
}

void HttpServer::Core::Close(Conn* conn) {
  if (conn->state == State::kClosed) return;
  conn->state = State::kClosed;
  if (conn->slot && !conn->processing) {
    conn->slot = false;
    ReleaseSlot();
  }
  if (conn->waiting_slot) {
    conn->waiting_slot = false;
    stat_slot_waiters.fetch_sub(1, std::memory_order_relaxed);
  }
  IdleRemove(conn);
  event_del(&conn->read_ev);
  event_del(&conn->write_ev);
  event_del(&conn->timer_ev);
  event_del(&conn->kick_ev);
  {
    // Replying threads write only under this lock, to a descriptor not
    // closed yet.
    std::lock_guard<std::mutex> lock(conn->wire->mu);
    conn->wire->fd = -1;
    close(conn->fd);
  }
  conn->fd = -1;
  if (conn->in_flight) {
    conn->in_flight = false;
    InFlightAdd(-1);
  }
  auto it = conns.find(conn->id);
  if (it != conns.end()) {
    // Freed at the next callback: the caller's stack may still use it.
    graveyard.push_back(std::move(it->second));
    conns.erase(it);
  }
  stat_connections.store(static_cast<int64_t>(conns.size()), std::memory_order_relaxed);
  if (accept_paused) ResumeAccept();
}

// ----------------------------------------------------------------- slots

bool HttpServer::Core::AcquireSlot(Conn* conn) {
  if (free_slots > 0) {
    --free_slots;
    stat_free_slots.store(free_slots, std::memory_order_relaxed);
    conn->slot = true;
    return true;
  }
  conn->state = State::kWaitSlot;
  conn->deadline = kNoDeadline;
  conn->waiting_slot = true;
  stat_slot_waiters.fetch_add(1, std::memory_order_relaxed);
  slot_waiters.push_back(conn->id);
  return false;
}

void HttpServer::Core::ReleaseSlot() {
  while (!slot_waiters.empty()) {
    auto it = conns.find(slot_waiters.front());
    slot_waiters.pop_front();
    if (it == conns.end()) continue;
    Conn* waiter = it->second.get();
    if (waiter->state != State::kWaitSlot || waiter->slot) continue;
    waiter->slot = true;
    waiter->waiting_slot = false;
    stat_slot_waiters.fetch_sub(1, std::memory_order_relaxed);
    // It resumes in its own callback, not inside whoever released the slot.
    event_active(&waiter->kick_ev, 0, 1);
    return;
  }
  ++free_slots;
  stat_free_slots.store(free_slots, std::memory_order_relaxed);
}

// ------------------------------------------------------ idle connections

void HttpServer::Core::IdleAppend(Conn* conn) {
  if (conn->idle) IdleRemove(conn);
  conn->idle = true;
  conn->idle_prev = idle_tail;
  conn->idle_next = nullptr;
  if (idle_tail != nullptr) {
    idle_tail->idle_next = conn;
  } else {
    idle_head = conn;
  }
  idle_tail = conn;
}

void HttpServer::Core::IdleRemove(Conn* conn) {
  if (!conn->idle) return;
  conn->idle = false;
  if (conn->idle_prev != nullptr) {
    conn->idle_prev->idle_next = conn->idle_next;
  } else {
    idle_head = conn->idle_next;
  }
  if (conn->idle_next != nullptr) {
    conn->idle_next->idle_prev = conn->idle_prev;
  } else {
    idle_tail = conn->idle_prev;
  }
  conn->idle_prev = conn->idle_next = nullptr;
}

void HttpServer::Core::InFlightAdd(int delta) {
  int64_t now = stat_in_flight.fetch_add(delta, std::memory_order_relaxed) + delta;
  if (now == 0 && stopping) {
    std::lock_guard<std::mutex> lock(in_flight_mu);
    in_flight_cv.notify_all();
  }
}

// -------------------------------------------------------------- stopping

void HttpServer::Core::BeginStop() {
  stopping = true;
  mailbox->stopping.store(true);
  if (listening) {
    listening = false;
    accept_paused = false;
    event_del(listen_ev);
    event_del(resume_ev);
    close(listen_fd);
    listen_fd = -1;
  }
  // Connections waiting for a request: one whose request has already
  // arrived is served, the others are closed.
  std::vector<Conn*> waiting;
  for (Conn* conn = idle_head; conn != nullptr; conn = conn->idle_next) waiting.push_back(conn);
  for (Conn* conn : waiting) {
    ReadAvailable(conn);
    if (conn->state == State::kHead) Close(conn);
  }
}

void HttpServer::Core::Shutdown() {
  std::vector<Conn*> all;
  for (auto& [id, conn] : conns) all.push_back(conn.get());
  for (Conn* conn : all) Close(conn);
  Reap();
  event_del(mail_ev);
  mailbox->Close();
  event_base_loopbreak(base);
}

// ------------------------------------------------------------ HttpServer

absl::Status HttpServer::Start(const HttpServerOptions& options, RequestHandler handler,
                               std::unique_ptr<HttpServer>* server) {
  if (options.num_threads < 1 || options.max_connections < 1 || options.read_timeout_ms <= 0) {
    return absl::InvalidArgumentError(
        "num_threads, max_connections and read_timeout_ms must be positive");
  }
  if (!handler) return absl::InvalidArgumentError("no request handler");
  HttpServerOptions resolved = options;
  if (resolved.max_body_bytes <= 0) resolved.max_body_bytes = DefaultMaxBodyBytes();
  resolved.max_connections = ConnectionLimit(resolved.max_connections);
  int fd = -1;
  int port = 0;
  absl::Status status = Listen(resolved.host, resolved.port, &fd, &port);
  if (!status.ok()) return status;
  auto core = std::make_shared<Core>(resolved, std::move(handler));
  status = core->Init(fd);
  if (!status.ok()) return status;
  core->workers = std::make_unique<WorkerPool>(resolved.num_threads);
  Core* raw = core.get();
  core->loop_thread = std::thread([raw] { raw->Run(); });
  std::unique_ptr<HttpServer> result(new HttpServer());
  result->port_ = port;
  result->core_ = std::move(core);
  *server = std::move(result);
  return absl::OkStatus();
}

bool HttpServer::Stop(double grace_seconds) {
  Core* core = core_.get();
  std::lock_guard<std::mutex> stop_lock(core->stop_mu);
  if (core->stopped) return core->drained;
  core->stopped = true;
  {
    std::promise<void> begun;
    std::future<void> done = begun.get_future();
    core->mailbox->Call([core, &begun] {
      core->BeginStop();
      begun.set_value();
    });
    done.wait();
  }
  {
    std::unique_lock<std::mutex> lock(core->in_flight_mu);
    auto grace = std::chrono::duration<double>(std::max(0.0, grace_seconds));
    core->drained = core->in_flight_cv.wait_for(lock, grace, [core] {
      return core->stat_in_flight.load(std::memory_order_relaxed) == 0;
    });
  }
  core->mailbox->Call([core] { core->Shutdown(); });
  core->loop_thread.join();
  core->workers->Stop();
  return core->drained;
}

HttpServer::~HttpServer() {
  if (!core_) return;
  Stop(0);
  // Joins the workers once their handlers return.
  core_->workers.reset();
}

HttpServerStats HttpServer::stats() const {
  HttpServerStats stats;
  stats.connections = core_->stat_connections.load(std::memory_order_relaxed);
  stats.in_flight = core_->stat_in_flight.load(std::memory_order_relaxed);
  stats.free_slots = core_->stat_free_slots.load(std::memory_order_relaxed);
  stats.slot_waiters = core_->stat_slot_waiters.load(std::memory_order_relaxed);
  return stats;
}

int64_t DefaultMaxBodyBytes() {
  std::vector<int64_t> limits;
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) limits.push_back(static_cast<int64_t>(pages) * page_size);
  for (const char* path :
       {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream file(path);
    std::string text;
    if (!(file >> text) || text.empty() ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;  // absent, or "max"
    }
    errno = 0;
    unsigned long long value = std::strtoull(text.c_str(), nullptr, 10);
    if (errno == 0 && value > 0 && value <= static_cast<unsigned long long>(INT64_MAX)) {
      limits.push_back(static_cast<int64_t>(value));
    }
  }
  if (limits.empty()) return std::numeric_limits<int64_t>::max();
  return *std::min_element(limits.begin(), limits.end()) / 2;
}

int ConnectionLimit(int requested) {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return requested;
  rlim_t allowed = limit.rlim_cur > kReservedDescriptors + 1 ? limit.rlim_cur - kReservedDescriptors
                                                             : 1;
  if (allowed < static_cast<rlim_t>(requested)) {
    LogWarning(
        "--rest_api_max_connections=%d exceeds what the open file limit (%llu) allows; "
        "using %llu",
        requested, static_cast<unsigned long long>(limit.rlim_cur),
        static_cast<unsigned long long>(allowed));
    return static_cast<int>(allowed);
  }
  return requested;
}

}  // namespace net_http
}  // namespace serving
}  // namespace tensorflow
