# SPDX-License-Identifier: GPL-2.0
#
# hmirror top-level build. The two commands a person needs are `make demo`
# and `make test`; README.md explains the rest.

VERSION        := 0.1.0
# Build caches (kernel sources and builds) live here, outside the repository.
HMIRROR_CACHE  ?= $(HOME)/.cache/hmirror
KERNEL_FLAVOUR ?= default
# The guests' device: sw (hmirror's in-kernel engine) or pci (qemu-models/).
DEVICE         ?= sw
export HMIRROR_CACHE KERNEL_FLAVOUR DEVICE

B       := build
CC      ?= cc
CFLAGS  := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror \
	   -Iinclude/uapi -Isrc/user/lib
LIB_SRC := src/user/lib/hmirror.c
LIB_HDR := src/user/lib/hmirror.h include/uapi/linux/hmirror.h

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

# Manual pages: one per area; every function also gets its name as a
# symbolic link to its area's page (page:alias).
MAN3       := $(wildcard src/user/man/*.3)
MAN8       := $(wildcard src/user/man/*.8)
MAN3_LINKS := \
	hmirror_mr_reg.3:hmirror_mr_dereg.3 \
	hmirror_mr_reg.3:hmirror_job_use_keys.3 \
	hmirror_mr_reg.3:hmirror_read_event.3 \
	hmirror_mr_reg.3:hmirror_mr_reg_flags.3 \
	hmirror_mr_reg.3:hmirror_mr_advise.3 \
	hmirror_open.3:hmirror_open_path.3 hmirror_open.3:hmirror_close.3 \
	hmirror_open.3:hmirror_fd.3 hmirror_open.3:hmirror_get_info.3 \
	hmirror_open.3:hmirror_dev_path.3 \
	hmirror_config.3:hmirror_config_get.3 \
	hmirror_config.3:hmirror_config_set.3 \
	hmirror_config.3:hmirror_set_preempt.3 \
	hmirror_config.3:hmirror_set_deadline.3 \
	hmirror_config.3:hmirror_set_policy.3 \
	hmirror_config.3:hmirror_set_eventfd.3 \
	hmirror_submit.3:hmirror_job_init.3 hmirror_submit.3:hmirror_job_reset.3 \
	hmirror_submit.3:hmirror_job_copy.3 hmirror_submit.3:hmirror_job_fill.3 \
	hmirror_submit.3:hmirror_job_crc32c.3 \
	hmirror_submit.3:hmirror_job_atomic_add.3 \
	hmirror_submit.3:hmirror_job_write_value.3 \
	hmirror_submit.3:hmirror_job_wait_value.3 \
	hmirror_submit.3:hmirror_job_delay.3 \
	hmirror_submit.3:hmirror_job_migrate.3 \
	hmirror_submit.3:hmirror_job_add_cmd.3 \
	hmirror_submit.3:hmirror_job_set_flags.3 \
	hmirror_submit.3:hmirror_wait.3 hmirror_submit.3:hmirror_crc32c.3 \
	hmirror_inject.3:hmirror_inject_get.3

UNIT_TESTS := $(B)/tests/unit/test_lib
VM_SUITES  := $(B)/tests/vm/test_module $(B)/tests/vm/test_mirror \
	      $(B)/tests/vm/test_devmem $(B)/tests/vm/test_excl \
	      $(B)/tests/vm/test_mr $(B)/tests/vm/test_hostile \
	      $(B)/tests/vm/test_stress $(B)/tests/vm/test_fault \
	      $(B)/tests/vm/test_rdma $(B)/tests/vm/test_reclaim \
	      $(B)/tests/vm/test_pci
TOOLS      := $(B)/tools/hmirrorctl $(B)/tools/hmirror-demo \
	      $(B)/tools/hmirror-reclaim
# Built with the tools, not installed: it needs test_hmm's uAPI header from
# the test kernel's source and runs in the test VM (make bench).
BENCH_TOOL := $(B)/tools/hmirror-bench
# Registration times against rxe's ibv_reg_mr: links libibverbs.
BENCH_MR_TOOL := $(B)/tools/hmirror-bench-mr
# The PCI accelerator's device model (a host process QEMU talks to) and its
# host-side test, which plays QEMU and the guest.
MODEL_SRC  := $(addprefix qemu-models/,hmirror-model.c bus.c mmu.c engine.c \
	      copy.c control.c)
MODEL_HDR  := qemu-models/model.h src/kernel/hmirror_pci_hw.h \
	      include/uapi/linux/hmirror.h
MODEL      := $(B)/qemu-models/hmirror-model $(B)/qemu-models/test-model

.PHONY: all user lib tools kernel module unit-build vm-build check unit deps \
	checkpatch compat-check vm-test test demo shell peer bench clean install \
	dkms-install man-check bench-build model model-test

all: user module

user: lib tools bench-build unit-build vm-build model

# ---- library and tools --------------------------------------------------
lib: $(B)/lib/libhmirror.a $(B)/lib/libhmirror.so

$(B)/lib/hmirror.o: $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -c -o $@ $<

$(B)/lib/libhmirror.a: $(B)/lib/hmirror.o
	ar rcs $@ $^

$(B)/lib/libhmirror.so: $(B)/lib/hmirror.o
	$(CC) -shared -Wl,-soname,libhmirror.so.0 -o $@ $^

tools: $(TOOLS)

$(B)/tools/%: src/user/tools/%.c $(B)/lib/libhmirror.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/lib/libhmirror.a

# hmirror-reclaim counts NUMA nodes with libnuma; -lm for its rounding.
$(B)/tools/hmirror-reclaim: src/user/tools/hmirror-reclaim.c \
		$(B)/lib/libhmirror.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/lib/libhmirror.a -lnuma -lm

bench-build: $(BENCH_TOOL) $(BENCH_MR_TOOL)

# test_hmm_uapi.h is included from the test kernel's source tree, never
# copied; `tests/vm/kernel source` fetches that tree if it is not cached.
$(BENCH_TOOL): src/user/tools/hmirror-bench.c $(B)/lib/libhmirror.a $(LIB_HDR)
	@mkdir -p $(@D)
	ksrc=$$(tests/vm/kernel source) && \
	$(CC) $(CFLAGS) -I"$$ksrc/lib" -o $@ $< $(B)/lib/libhmirror.a -lm

$(BENCH_MR_TOOL): src/user/tools/hmirror-bench-mr.c $(B)/lib/libhmirror.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/lib/libhmirror.a -libverbs -lm

# ---- device model -------------------------------------------------------
model: $(MODEL)

$(B)/qemu-models/hmirror-model: $(MODEL_SRC) $(MODEL_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Isrc/kernel -pthread -o $@ $(MODEL_SRC)

$(B)/qemu-models/test-model: qemu-models/test-model.c qemu-models/test-guest.c \
		qemu-models/test-guest.h $(MODEL_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Isrc/kernel -o $@ qemu-models/test-model.c \
		qemu-models/test-guest.c

# ---- manual pages -------------------------------------------------------
# Renders every page with man-db and groff warnings on; any warning fails.
man-check:
	@out=$$(MANWIDTH=80 man -l --warnings $(MAN3) $(MAN8) 2>&1 >/dev/null); \
	if [ -n "$$out" ]; then echo "$$out"; exit 1; fi
	@for l in $(MAN3_LINKS); do \
		[ -f src/user/man/$${l%%:*} ] || { echo "no page $${l%%:*}"; exit 1; }; \
	done
	@# Every function hmirror.h declares has a page or a link.
	@names=" $(notdir $(MAN3)) $(foreach l,$(MAN3_LINKS),$(lastword $(subst :, ,$(l)))) "; \
	for f in $$(sed -n 's/^[a-z].*[ *]\(hmirror_[a-z0-9_]*\)(.*/\1/p' \
			src/user/lib/hmirror.h); do \
		case "$$names" in *" $$f.3 "*) ;; \
		*) echo "man-check: $$f has no manual page"; exit 1 ;; esac; \
	done

# ---- tests --------------------------------------------------------------
unit-build: $(UNIT_TESTS)

$(B)/tests/unit/test_lib: tests/unit/test_lib.c $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wl,--wrap=ioctl -o $@ $< $(LIB_SRC) -lcmocka

vm-build: $(VM_SUITES)

$(B)/tests/vm/%: tests/vm/suites/%.c tests/vm/suites/guest.h \
		$(B)/lib/libhmirror.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/vm/suites -o $@ $< $(B)/lib/libhmirror.a -lcmocka

# test_module also loads the test_hmm front end and talks test_hmm's uAPI:
# its header comes from the test kernel's source tree, as for the bench.
$(B)/tests/vm/test_module: tests/vm/suites/test_module.c \
		tests/vm/suites/guest.h $(B)/lib/libhmirror.a $(LIB_HDR)
	@mkdir -p $(@D)
	ksrc=$$(tests/vm/kernel source) && \
	$(CC) $(CFLAGS) -Itests/vm/suites -I"$$ksrc/lib" -o $@ $< \
		$(B)/lib/libhmirror.a -lcmocka

# The RDMA interop suite drives rxe through rdma-core's libibverbs.
$(B)/tests/vm/test_rdma: tests/vm/suites/test_rdma.c tests/vm/suites/guest.h \
		$(B)/lib/libhmirror.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/vm/suites -o $@ $< $(B)/lib/libhmirror.a \
		-lcmocka -libverbs

$(B)/tests/vm/test_reclaim: tests/vm/suites/test_reclaim.c \
		tests/vm/suites/guest.h $(B)/lib/libhmirror.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/vm/suites -o $@ $< $(B)/lib/libhmirror.a \
		-lcmocka -lm

# ---- kernel and module --------------------------------------------------
kernel:
	tests/vm/kernel build >/dev/null

module: kernel
	$(MAKE) -C "$$(tests/vm/kernel build)" M=$(CURDIR)/src/kernel modules

# ---- the commands -------------------------------------------------------
# Each command installs what it needs first (tests/deps: apt-get as root).
deps:
	tests/deps

# Host-only checks: unit tests, the device model's test, checkpatch
# --strict, compat-check.
check: deps
	$(MAKE) unit-build model
	tests/run check

# The device model against its host-side test (no QEMU, no VM).
model-test: deps
	$(MAKE) model
	tests/run model

unit: deps
	$(MAKE) unit-build
	tests/run unit

checkpatch: deps
	tests/run checkpatch

compat-check: deps
	tests/run compat

vm-test: deps
	$(MAKE) user module
	tests/run vm

test: deps
	$(MAKE) user module
	tests/run all

demo: deps
	$(MAKE) user module
	tests/demo

shell: deps
	$(MAKE) user module
	tests/vm/run --shell

peer: deps
	tests/peer/run

# Benchmarks against their anchors, in the VM; no pass/fail.
bench: deps
	$(MAKE) user module
	tests/bench/run

clean:
	rm -rf $(B)
	-$(MAKE) -C src/kernel clean KDIR="$$(tests/vm/kernel dir)" 2>/dev/null
	rm -f src/kernel/*.o src/kernel/*.ko src/kernel/*.mod* \
	      src/kernel/.*.cmd src/kernel/Module.symvers src/kernel/modules.order

# ---- installation -------------------------------------------------------
# Library, header, pkg-config file, tools and manual pages; the module goes
# through DKMS.
install: lib tools
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR)/linux \
		$(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man8
	install -m 644 $(B)/lib/libhmirror.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(B)/lib/libhmirror.so $(DESTDIR)$(LIBDIR)/libhmirror.so.$(VERSION)
	ln -sf libhmirror.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libhmirror.so.0
	ln -sf libhmirror.so.0 $(DESTDIR)$(LIBDIR)/libhmirror.so
	install -m 644 src/user/lib/hmirror.h $(DESTDIR)$(INCDIR)/hmirror.h
	install -m 644 include/uapi/linux/hmirror.h $(DESTDIR)$(INCDIR)/linux/hmirror.h
	# hmirror.pc is made here, so it names the prefix actually installed to.
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    src/user/lib/hmirror.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/hmirror.pc
	install -m 755 $(TOOLS) $(DESTDIR)$(BINDIR)/
	install -m 644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/
	install -m 644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	for l in $(MAN3_LINKS); do \
		ln -sf $${l%%:*} $(DESTDIR)$(MANDIR)/man3/$${l#*:} || exit 1; \
	done

# Builds and installs the module for the running kernel through DKMS.
dkms-install:
	rm -rf /usr/src/hmirror-$(VERSION)
	install -d /usr/src/hmirror-$(VERSION)
	cp -r dkms.conf src include /usr/src/hmirror-$(VERSION)/
	dkms add -m hmirror -v $(VERSION)
	dkms build -m hmirror -v $(VERSION)
	dkms install -m hmirror -v $(VERSION)
