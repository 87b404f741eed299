// Notifier settings (scripts and mail) from global_defs.
#pragma once

#include "ctrl/config/model.hpp"
#include "ctrl/notify/notifier.hpp"

namespace xlb::daemon {

notify::NotifierSettings plan_notify(const config::Config& config);
notify::VrrpScripts vrrp_scripts(const config::NotifyScripts& scripts);

}  // namespace xlb::daemon
