// SPDX-License-Identifier: MIT
#include "vu_poll.h"

void vu_poll_init(struct vu_poll *p, uint32_t max_ns)
{
	p->max_ns = max_ns;
	p->ns = max_ns < VU_POLL_START_NS ? max_ns : VU_POLL_START_NS;
	p->caught = 0;
	p->slept = 0;
	p->preempted = 0;
}

void vu_poll_preempted(struct vu_poll *p)
{
	p->preempted++;
	p->ns = 0;
}

void vu_poll_caught(struct vu_poll *p)
{
	p->caught++;
}

void vu_poll_woke(struct vu_poll *p, uint64_t gap_ns)
{
	p->slept++;
	if (!p->max_ns)
		return;
	if (gap_ns <= p->max_ns) {
		/* A longer look would have caught it. */
		uint64_t ns = p->ns ? 2ull * p->ns : VU_POLL_START_NS;

		p->ns = ns > p->max_ns ? p->max_ns : (uint32_t)ns;
	} else {
		/* Nothing came within the bound: looking was wasted. */
		p->ns /= 2;
		if (p->ns < VU_POLL_START_NS)
			p->ns = 0;
	}
}
