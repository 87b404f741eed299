// Boost.Beast's non-template code, compiled once (BOOST_BEAST_SEPARATE_COMPILATION).
#include "xlb/asio.hpp"

#include <boost/beast/src.hpp>
