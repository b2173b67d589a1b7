//! The qemu-tests harness: boot an image variant, watch its serial console, talk QMP, clean up.
