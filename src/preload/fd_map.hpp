// The preload shim's process-wide descriptor table: which kernel descriptors
// stand for sendpath sockets (and the socket behind each), and which are
// epoll instances the program made. Indexed by descriptor number in chunks
// allocated on first use; a descriptor that is neither costs one relaxed
// load to recognise, so read(2) on a plain file pays almost nothing.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace sp::preload {

struct SpFile;

class FdMap {
 public:
  // Descriptor kinds.
  static constexpr std::uint8_t kSocket = 1;      // a sendpath socket
  static constexpr std::uint8_t kEpoll = 2;       // an epoll instance of the program
  static constexpr std::uint8_t kAppCloexec = 4;  // FD_CLOEXEC as the program set it

  // The kind bits of fd (0: a descriptor the shim does not know).
  std::uint8_t kind(int fd) const {
    const Chunk* c = chunk(fd);
    return c ? c->kind[slot(fd)].load(std::memory_order_acquire) : 0;
  }
  bool is_socket(int fd) const { return kind(fd) & kSocket; }

  // The socket behind fd, or null.
  std::shared_ptr<SpFile> get(int fd) const {
    if (!is_socket(fd)) return nullptr;
    std::lock_guard<std::mutex> g(mu_);
    return chunk(fd)->file[slot(fd)];
  }
  // fd now stands for file; returns what it stood for before (to be
  // dropped by the caller, outside the lock).
  std::shared_ptr<SpFile> set(int fd, std::shared_ptr<SpFile> file, bool cloexec) {
    Chunk* c = chunk_for(fd);
    if (!c) return nullptr;
    std::lock_guard<std::mutex> g(mu_);
    std::shared_ptr<SpFile> old = std::move(c->file[slot(fd)]);
    c->file[slot(fd)] = std::move(file);
    c->kind[slot(fd)].store(kSocket | (cloexec ? kAppCloexec : 0), std::memory_order_release);
    return old;
  }
  // Forgets fd; returns the socket it stood for (null if none).
  std::shared_ptr<SpFile> take(int fd) {
    Chunk* c = const_cast<Chunk*>(chunk(fd));
    if (!c) return nullptr;
    std::lock_guard<std::mutex> g(mu_);
    c->kind[slot(fd)].store(0, std::memory_order_release);
    return std::move(c->file[slot(fd)]);
  }
  void set_kind_bits(int fd, std::uint8_t bits, bool on) {
    Chunk* c = chunk_for(fd);
    if (!c) return;
    std::lock_guard<std::mutex> g(mu_);
    const std::uint8_t k = c->kind[slot(fd)].load(std::memory_order_relaxed);
    c->kind[slot(fd)].store(on ? (k | bits) : (k & ~bits), std::memory_order_release);
  }
  // Every socket descriptor and its file (for exit).
  std::vector<std::pair<int, std::shared_ptr<SpFile>>> all() const {
    std::vector<std::pair<int, std::shared_ptr<SpFile>>> out;
    std::lock_guard<std::mutex> g(mu_);
    for (std::size_t ci = 0; ci < kChunks; ++ci) {
      const Chunk* c = chunks_[ci].load(std::memory_order_acquire);
      if (!c) continue;
      for (std::size_t i = 0; i < kChunkSize; ++i)
        if (c->file[i]) out.emplace_back(static_cast<int>(ci * kChunkSize + i), c->file[i]);
    }
    return out;
  }
  // fork(2): the child's copy of the lock must be free.
  std::mutex& mutex() { return mu_; }

 private:
  static constexpr std::size_t kChunkBits = 12;
  static constexpr std::size_t kChunkSize = std::size_t{1} << kChunkBits;
  static constexpr std::size_t kChunks = 256;  // descriptors 0 .. 2^20 - 1
  struct Chunk {
    std::array<std::atomic<std::uint8_t>, kChunkSize> kind{};
    std::array<std::shared_ptr<SpFile>, kChunkSize> file;
  };
  static std::size_t slot(int fd) { return static_cast<std::size_t>(fd) & (kChunkSize - 1); }
  const Chunk* chunk(int fd) const {
    if (fd < 0) return nullptr;
    const std::size_t ci = static_cast<std::size_t>(fd) >> kChunkBits;
    return ci < kChunks ? chunks_[ci].load(std::memory_order_acquire) : nullptr;
  }
  Chunk* chunk_for(int fd) {
    if (fd < 0) return nullptr;
    const std::size_t ci = static_cast<std::size_t>(fd) >> kChunkBits;
    if (ci >= kChunks) return nullptr;
    Chunk* c = chunks_[ci].load(std::memory_order_acquire);
    if (c) return c;
    std::lock_guard<std::mutex> g(mu_);
    c = chunks_[ci].load(std::memory_order_relaxed);
    if (!c) {
      c = new Chunk;  // lives as long as the process
      chunks_[ci].store(c, std::memory_order_release);
    }
    return c;
  }

  mutable std::mutex mu_;
  std::array<std::atomic<Chunk*>, kChunks> chunks_{};
};

}  // namespace sp::preload
