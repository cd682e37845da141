// The raw-protocol client side that broker tests share: frames out as one multipart
// message, the hub's next reply in. Header-only; the tests that include it link cppzmq
// and Catch2 themselves.
#pragma once

#include <catch2/catch.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <iterator>
#include <string>
#include <vector>

namespace hub::test {

// Sends `frames` as one multipart message.
inline void send_frames(zmq::socket_t& s, const std::vector<std::string>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i)
    s.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
}

// The next message from the hub, which must come within 10 s.
inline std::vector<zmq::message_t> next_reply(zmq::socket_t& s) {
  std::vector<zmq::message_t> reply;
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  REQUIRE(zmq::poll(&item, 1, std::chrono::seconds(10)) > 0);
  REQUIRE(zmq::recv_multipart(s, std::back_inserter(reply)));
  REQUIRE_FALSE(reply.empty());
  return reply;
}

}  // namespace hub::test
