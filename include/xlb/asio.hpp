// The one way xlb includes Boost.Asio: Boost 1.74's Asio needs <utility> first under C++20.
#pragma once
#include <utility>
#include <boost/asio.hpp>
