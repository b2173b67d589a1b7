//! The compute readiness check: on a Genestack compute node, whether KVM is usable
//! (`KVM_GET_API_VERSION` on `/dev/kvm`), nested virtualization and hugepages are as configured,
//! IOMMU groups exist when the kernel line turns an IOMMU on, the configured kernel arguments
//! reached the kernel, and — once Genestack's libvirt pod answers on `/run/libvirt` — what libvirt
//! says (version, capabilities, KVM domains). It never blocks the boot: PID 1 runs it as a
//! background service that checks every few minutes and writes the metrics for the node
//! exporter's textfile collector and a JSON report for `plinthctl compute`.
//!
//! Pure decisions — the kernel line ([`cmdline`]), what each check says ([`check`]), the report
//! and metrics ([`report`]) — are separate from the effects: the KVM ioctl ([`kvm`]), sysfs and
//! /proc ([`observe`]), asking libvirt through `plinth-virt-check` ([`libvirt`]), and the loop
//! around them ([`run`]).

pub mod check;
pub mod cli;
pub mod cmdline;
pub mod kvm;
pub mod libvirt;
pub mod observe;
pub mod report;
pub mod run;
