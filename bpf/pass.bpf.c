// SPDX-License-Identifier: GPL-2.0
/* A veth only delivers frames sent into it with XDP_TX or a redirect when its peer has an
 * XDP program; this one lets everything through. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xlb_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}
