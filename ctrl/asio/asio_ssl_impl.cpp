// Asio's TLS layer, compiled once; kept apart from asio_impl.cpp so that only programs that use
// TLS link OpenSSL through it.
#include "xlb/asio.hpp"

#include <boost/asio/ssl/impl/src.hpp>
