//! `plinth-agents`: the library behind `plinth-agent`, the node's single-purpose helpers run as
//! services supervised by PID 1, one module per subcommand. Today: [`net`], which applies the
//! machine config's network with rtnetlink; [`dhcpcd`], the `dhcp` service's program that turns
//! `net`'s ready file into dhcpcd's config and execs dhcpcd; [`pki`], which makes and keeps a control-plane node's
//! cluster PKI; [`cluster`], what the cluster's processes run with; [`etcd`], which grows a
//! stacked etcd one learner at a time; [`storage`], which prepares the disks of `plinth.storage`; [`join`], a joining node's side of kubeadm's discovery
//! and the control planes' shared certificates; and [`compute`], a compute node's readiness (KVM,
//! hugepages, IOMMU, libvirt through the separate `plinth-virt-check`); and [`ovs`], host-mode Open
//! vSwitch's bridges, bonds and VLAN ports through the OVSDB protocol. Heavy dependencies live
//! here, never in the static PID 1.
// `compute::kvm` asks /dev/kvm with one ioctl, the only unsafe block (documented there).
#![deny(unsafe_code)]

pub mod cluster;
pub mod compute;
pub mod dhcpcd;
pub mod etcd;
pub mod join;
pub mod net;
pub mod ovs;
pub mod pki;
pub mod prom;
pub mod status_report;
pub mod storage;
