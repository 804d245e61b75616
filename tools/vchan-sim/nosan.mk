# tools/vchan-sim/nosan.mk - included by make (GNU make only, hence not in
# Makemodule.am): build the drop-in libraries without sanitizers.
$(DROPIN_LIBS): CFLAGS := $(filter-out -fsanitize=%,$(CFLAGS))
