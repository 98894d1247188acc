// A growable, 64-byte-aligned, uninitialised array of trivially copyable
// values: the storage the decoder fills and the SIMD kernel reads and writes.
#ifndef CQMUX_SERVER_OUTLIERS_ALIGNED_BUFFER_H_
#define CQMUX_SERVER_OUTLIERS_ALIGNED_BUFFER_H_

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

namespace cqmux::outliers {

template <typename T>
class AlignedBuffer {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  // 64 bytes: a cache line and an AVX-512 vector.
  static constexpr size_t kAlignment = 64;

  AlignedBuffer() = default;
  AlignedBuffer(AlignedBuffer&&) noexcept = default;
  AlignedBuffer& operator=(AlignedBuffer&&) noexcept = default;

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

  void clear() { size_ = 0; }

  // Ensures room for `n` elements; keeps the first size() elements.
  void reserve(size_t n) {
    if (n <= capacity_) return;
    const size_t bytes =
        (n * sizeof(T) + kAlignment - 1) / kAlignment * kAlignment;
    T* p = static_cast<T*>(std::aligned_alloc(kAlignment, bytes));
    if (p == nullptr) throw std::bad_alloc();
    if (size_ != 0) std::memcpy(p, data_.get(), size_ * sizeof(T));
    data_.reset(p);
    capacity_ = bytes / sizeof(T);
  }

  // Sets the size; new elements are uninitialised. Requires n <= capacity().
  void set_size(size_t n) { size_ = n; }

  void push_back(T v) {
    if (size_ == capacity_) reserve(capacity_ < 64 ? 64 : capacity_ * 2);
    data_[size_++] = v;
  }

  // Frees the storage if it holds more than `max_elements` (keeps long-lived
  // per-thread buffers from pinning the memory of one huge request).
  void shrink_if_above(size_t max_elements) {
    if (capacity_ <= max_elements) return;
    data_.reset();
    size_ = capacity_ = 0;
  }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T[], Free> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace cqmux::outliers

#endif  // CQMUX_SERVER_OUTLIERS_ALIGNED_BUFFER_H_
