// Boost.Asio's non-template code, compiled once for every program instead of inline in each of
// the hundred translation units that use Asio (BOOST_ASIO_SEPARATE_COMPILATION, see CMakeLists).
#include "xlb/asio.hpp"

#include <boost/asio/impl/src.hpp>
