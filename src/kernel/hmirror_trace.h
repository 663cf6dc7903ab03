/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmirror tracepoints: tracefs events/hmirror/.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM hmirror

#if !defined(_HMIRROR_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _HMIRROR_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(hmirror_submit,
	TP_PROTO(u32 dev, u32 ctx, u64 fence, u32 nr_cmds, u32 nr_segs),
	TP_ARGS(dev, ctx, fence, nr_cmds, nr_segs),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u32, ctx)
		__field(u64, fence)
		__field(u32, nr_cmds)
		__field(u32, nr_segs)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->ctx = ctx;
		__entry->fence = fence;
		__entry->nr_cmds = nr_cmds;
		__entry->nr_segs = nr_segs;
	),
	TP_printk("dev=%u ctx=%u fence=%llu cmds=%u segs=%u",
		  __entry->dev, __entry->ctx, __entry->fence,
		  __entry->nr_cmds, __entry->nr_segs)
);

TRACE_EVENT(hmirror_fault,
	TP_PROTO(u32 dev, u32 ctx, unsigned long start, unsigned long end,
		 bool write, int ret),
	TP_ARGS(dev, ctx, start, end, write, ret),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u32, ctx)
		__field(unsigned long, start)
		__field(unsigned long, end)
		__field(bool, write)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->ctx = ctx;
		__entry->start = start;
		__entry->end = end;
		__entry->write = write;
		__entry->ret = ret;
	),
	TP_printk("dev=%u ctx=%u [%#lx, %#lx) %s ret=%d",
		  __entry->dev, __entry->ctx, __entry->start, __entry->end,
		  __entry->write ? "write" : "read", __entry->ret)
);

TRACE_EVENT(hmirror_invalidate_start,
	TP_PROTO(u32 dev, u32 ctx, unsigned long start, unsigned long end,
		 u32 event, bool blockable),
	TP_ARGS(dev, ctx, start, end, event, blockable),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u32, ctx)
		__field(unsigned long, start)
		__field(unsigned long, end)
		__field(u32, event)
		__field(bool, blockable)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->ctx = ctx;
		__entry->start = start;
		__entry->end = end;
		__entry->event = event;
		__entry->blockable = blockable;
	),
	TP_printk("dev=%u ctx=%u [%#lx, %#lx) event=%u %s",
		  __entry->dev, __entry->ctx, __entry->start, __entry->end,
		  __entry->event,
		  __entry->blockable ? "blockable" : "non-blockable")
);

TRACE_EVENT(hmirror_invalidate_end,
	TP_PROTO(u32 dev, u32 ctx, u64 wait_us, bool ok, bool escalated),
	TP_ARGS(dev, ctx, wait_us, ok, escalated),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u32, ctx)
		__field(u64, wait_us)
		__field(bool, ok)
		__field(bool, escalated)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->ctx = ctx;
		__entry->wait_us = wait_us;
		__entry->ok = ok;
		__entry->escalated = escalated;
	),
	TP_printk("dev=%u ctx=%u wait_us=%llu %s%s",
		  __entry->dev, __entry->ctx, __entry->wait_us,
		  __entry->ok ? "done" : "refused",
		  __entry->escalated ? " escalated" : "")
);

TRACE_EVENT(hmirror_escalate,
	TP_PROTO(u32 dev, u32 ctx, pid_t pid, u64 waited_us, bool killed),
	TP_ARGS(dev, ctx, pid, waited_us, killed),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u32, ctx)
		__field(pid_t, pid)
		__field(u64, waited_us)
		__field(bool, killed)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->ctx = ctx;
		__entry->pid = pid;
		__entry->waited_us = waited_us;
		__entry->killed = killed;
	),
	TP_printk("dev=%u ctx=%u pid=%d waited_us=%llu%s",
		  __entry->dev, __entry->ctx, __entry->pid, __entry->waited_us,
		  __entry->killed ? " killed" : "")
);

/* Pages of a device's memory moving: why is "migrate", "fault" or "evict". */
TRACE_EVENT(hmirror_devmem_move,
	TP_PROTO(u32 dev, const char *why, bool to_dev, unsigned long start,
		 unsigned long end, unsigned long moved),
	TP_ARGS(dev, why, to_dev, start, end, moved),
	TP_STRUCT__entry(
		__field(u32, dev)
		__string(why, why)
		__field(bool, to_dev)
		__field(unsigned long, start)
		__field(unsigned long, end)
		__field(unsigned long, moved)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__assign_str(why);
		__entry->to_dev = to_dev;
		__entry->start = start;
		__entry->end = end;
		__entry->moved = moved;
	),
	TP_printk("dev=%u %s %s [%#lx, %#lx) moved=%lu", __entry->dev,
		  __get_str(why), __entry->to_dev ? "to device" : "to system",
		  __entry->start, __entry->end, __entry->moved)
);

TRACE_EVENT(hmirror_job_done,
	TP_PROTO(u32 dev, u32 ctx, u64 fence, int status),
	TP_ARGS(dev, ctx, fence, status),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u32, ctx)
		__field(u64, fence)
		__field(int, status)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->ctx = ctx;
		__entry->fence = fence;
		__entry->status = status;
	),
	TP_printk("dev=%u ctx=%u fence=%llu status=%d",
		  __entry->dev, __entry->ctx, __entry->fence, __entry->status)
);

#endif /* _HMIRROR_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE hmirror_trace
#include <trace/define_trace.h>
