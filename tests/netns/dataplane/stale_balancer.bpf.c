// SPDX-License-Identifier: GPL-2.0
/* Stands for the program of an older xlb release: the same name as the balancer, other code.
 * A new xlbd must swap it for its own in one step rather than attach beside it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xlb_balancer(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}
