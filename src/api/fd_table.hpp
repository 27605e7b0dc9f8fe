// The calling thread's descriptor table (net/socket.c sockfd_lookup), for
// code inside sendpath that needs the struct socket behind a descriptor
// (tests, tools). Applications use sendpath/api.hpp only.
#pragma once
#include "sock/sock.hpp"

namespace sp {

// The socket for fd, or nullptr when fd is not an open sendpath descriptor.
Socket* sockfd_lookup(int fd);

}  // namespace sp
