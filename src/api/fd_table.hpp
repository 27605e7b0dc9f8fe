// The calling thread's descriptor table (net/socket.c sockfd_lookup, fs/file.c), for
// code inside sendpath that needs the struct socket behind a descriptor
// (tests, tools). Applications use sendpath/api.hpp only.
#pragma once
#include <memory>

#include "fs/file.hpp"
#include "sock/sock.hpp"

namespace sp {

// The socket for fd, or nullptr when fd is not an open sendpath descriptor.
Socket* sockfd_lookup(int fd);
// The file behind fd (a socket or an epoll instance), or nullptr (fget).
File* fget(int fd);
// Installs file at the lowest free descriptor and returns it (fd_install).
int fd_install(std::unique_ptr<File> file);

}  // namespace sp
