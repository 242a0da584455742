// LoopLagProbe: how late an event loop runs what is due. A timer on the loop
// fires every `period` and records how long after its expiry it ran: a
// handler that blocks, a burst of work, or a thread the kernel did not
// schedule all show up as lag, and every connection on that loop waits as
// long. The figure an operator needs to tell a slow loop from a slow store.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>

#include "common/metrics.h"

namespace parley::net {

// Starts the probe on `loop`; it runs until the loop stops (its state is
// owned by its pending timer, freed with the loop). `lag` must outlive the
// loop.
void startLoopLagProbe(boost::asio::io_context& loop, LatencyBuckets* lag,
                       std::chrono::milliseconds period);

}  // namespace parley::net
