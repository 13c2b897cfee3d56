// BlockingPool: a few threads for work that blocks — fsync, SQLite commits,
// cgroup teardown waits — so kilnd's one I/O thread never sleeps or fsyncs.
//
//   auto put = co_await pool.run([&] { return drive.put(...); });
//
// run() resumes the awaiting coroutine on its own executor (the I/O
// thread) with the function's result. post_ordered() queues work on one
// strand, so writes that must land in order (the usage ledger) do; barrier()
// awaits everything posted before it (a run is answered once its usage is on
// disk; the usage routes read their own writes).
//
// Concurrency contract: what a function passed to run() or post_ordered()
// touches must be safe to use from another thread (the storage classes
// are, see their headers) or owned by the function alone. The pool is
// created before the I/O thread runs and destroyed after it stops; its
// destructor waits for queued work.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace kiln {

class BlockingPool {
 public:
  explicit BlockingPool(std::size_t threads)
      : pool_(threads), ordered_pool_(1), ordered_(ordered_pool_.get_executor()) {}
  ~BlockingPool() {
    pool_.join();
    ordered_pool_.join();
  }
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // F must capture by reference (run() is a coroutine, and GCC 12 mishandles
  // coroutine parameters with destructors); what it refers to lives in the
  // awaiting coroutine's frame, which outlives the call.
  template <typename F>
  boost::asio::awaitable<std::invoke_result_t<F>> run(F f) {
    static_assert(std::is_trivially_destructible_v<F>, "capture by reference");
    using R = std::invoke_result_t<F>;
    if constexpr (std::is_void_v<R>) {
      co_await offload_on(pool_.get_executor(), [&f] { f(); });
    } else {
      std::optional<R> result;
      co_await offload_on(pool_.get_executor(), [&f, &result] { result.emplace(f()); });
      co_return std::move(*result);
    }
  }

  template <typename F>
  void post_ordered(F f) {
    boost::asio::post(ordered_, std::move(f));
  }

  // Completes once everything post_ordered() before it has run.
  boost::asio::awaitable<void> barrier() {
    return offload_on(ordered_, [] {});
  }

 private:
  // Runs f on `ex`, then resumes the awaiting coroutine on its own executor;
  // an exception from f is rethrown there. Deliberately not a coroutine:
  // GCC 12 mishandles class-type parameters of coroutines (a copied strand
  // lost a reference count), so the executor and f are copied into the
  // operation here, before anything is suspended.
  template <typename Executor, typename F>
  static boost::asio::awaitable<void> offload_on(const Executor& ex, F f) {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                       void(std::exception_ptr)>(
        [ex](auto handler, F work) {
          boost::asio::post(ex, [work = std::move(work), handler = std::move(handler)]() mutable {
            std::exception_ptr error;
            try {
              work();
            } catch (...) {
              error = std::current_exception();
            }
            auto back = boost::asio::get_associated_executor(handler);
            boost::asio::post(back, [handler = std::move(handler), error]() mutable {
              std::move(handler)(error);
            });
          });
        },
        boost::asio::use_awaitable, std::move(f));
  }

  boost::asio::thread_pool pool_;
  // The ordered work has a thread of its own: a run's answer waits for its
  // usage write (barrier()), and must not queue behind a cgroup teardown
  // that sleeps for seconds on the shared threads.
  boost::asio::thread_pool ordered_pool_;
  boost::asio::strand<boost::asio::thread_pool::executor_type> ordered_;
};

}  // namespace kiln
