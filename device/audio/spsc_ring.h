// A bounded single-producer / single-consumer ring of trivially copyable samples.
//
// This is how the real-time capture thread hands audio to the pipeline thread (and the playback
// thread hands the echo reference back) without locks: exactly one thread calls write(), exactly
// one other thread calls read(). Both are wait-free: they never block, allocate or make a system
// call. The storage is allocated once, in the constructor.
//
// Memory ordering: the producer fills slots, then publishes them with a release store of head_;
// the consumer reads head_ with acquire before touching those slots (and symmetrically for tail_),
// so a slot is never read before it is written nor overwritten before it is read.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>

namespace earshot::device {

template <typename T>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>, "SpscRing copies with memcpy");

 public:
  // Capacity is rounded up to a power of two (so indices wrap with a mask).
  explicit SpscRing(size_t min_capacity) {
    size_t cap = 1;
    while (cap < min_capacity)
      cap <<= 1;
    capacity_ = cap;
    mask_ = cap - 1;
    data_ = std::make_unique<T[]>(cap);
  }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  size_t capacity() const { return capacity_; }

  // Producer: copies up to n items; returns how many fit (the rest is the caller's to drop/count).
  size_t write(const T* items, size_t n) {
    const size_t head = head_.load(std::memory_order_relaxed);
    const size_t tail = tail_.load(std::memory_order_acquire);
    const size_t room = capacity_ - (head - tail);
    n = std::min(n, room);
    copy_in(head, items, n);
    head_.store(head + n, std::memory_order_release);
    return n;
  }

  // Consumer: copies up to n items out; returns how many there were.
  size_t read(T* out, size_t n) {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    const size_t head = head_.load(std::memory_order_acquire);
    n = std::min(n, head - tail);
    copy_out(tail, out, n);
    tail_.store(tail + n, std::memory_order_release);
    return n;
  }

  // Consumer: drops everything currently readable (e.g. a flush on barge-in).
  void clear() { tail_.store(head_.load(std::memory_order_acquire), std::memory_order_release); }

  // Either side: a snapshot; exact for the caller's own side, a lower bound for the other.
  size_t readable() const {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }
  size_t writable() const { return capacity_ - readable(); }

 private:
  void copy_in(size_t pos, const T* src, size_t n) {
    const size_t i = pos & mask_;
    const size_t first = std::min(n, capacity_ - i);
    std::memcpy(&data_[i], src, first * sizeof(T));
    std::memcpy(&data_[0], src + first, (n - first) * sizeof(T));
  }
  void copy_out(size_t pos, T* dst, size_t n) const {
    const size_t i = pos & mask_;
    const size_t first = std::min(n, capacity_ - i);
    std::memcpy(dst, &data_[i], first * sizeof(T));
    std::memcpy(dst + first, &data_[0], (n - first) * sizeof(T));
  }

  std::unique_ptr<T[]> data_;
  size_t capacity_ = 0;
  size_t mask_ = 0;
  // Each index on its own cache line so producer and consumer do not false-share.
  alignas(64) std::atomic<size_t> head_{0};  // written by the producer only
  alignas(64) std::atomic<size_t> tail_{0};  // written by the consumer only
};

}  // namespace earshot::device
