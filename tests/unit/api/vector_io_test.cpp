// readv/writev argument checks (import_iovec): the count is validated before
// the descriptor is looked at, then the call is recvmsg/sendmsg.
#include <gtest/gtest.h>

#include <cerrno>
#include <climits>

#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"
#include "sendpath/socket.hpp"

namespace sp::api_test {
namespace {

TEST(VectorIo, negative_or_too_many_vectors_are_einval) {
  SimWorld world;
  TcpSocket s = TcpSocket::open(world.add_stack());
  char b[4];
  iovec iov{b, sizeof b};
  EXPECT_EQ(sp::writev(s.fd(), &iov, -1), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(sp::readv(s.fd(), &iov, IOV_MAX + 1), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(sp::readv(999, &iov, -1), -1);
  EXPECT_EQ(errno, EINVAL) << "the count is checked before the descriptor";
}

TEST(VectorIo, a_valid_count_reaches_the_socket_call) {
  SimWorld world;
  TcpSocket s = TcpSocket::open(world.add_stack());
  char b[4];
  iovec iov{b, sizeof b};
  EXPECT_EQ(sp::readv(999, &iov, 1), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_EQ(sp::writev(s.fd(), &iov, 1), -1);
  EXPECT_EQ(errno, EPIPE) << "not connected: tcp_sendmsg's EPIPE";
  EXPECT_EQ(sp::readv(s.fd(), &iov, 1), -1);
  EXPECT_EQ(errno, ENOTCONN);
}

}  // namespace
}  // namespace sp::api_test
