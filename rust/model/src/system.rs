// SPDX-License-Identifier: GPL-2.0

//! Guest senders posting to one target vCPU, and KVM running that vCPU.
//!
//! Every step below is one atomic operation of one actor; the checker tries
//! all their interleavings. The actors are:
//!
//! - senders (other vCPUs of the guest), each running `ipi_core::posted::PostStep`
//!   for a short script of vectors, and, after a fallback, KVM's emulation of the
//!   IPI on the sender's vCPU (`__vmx_deliver_posted_interrupt()`: test-and-set
//!   the PIR bit, test-and-set ON, `kvm_vcpu_trigger_posted_interrupt()`);
//! - the target vCPU's thread, guest and host halves: `vcpu_enter_guest()` (set
//!   `IN_GUEST_MODE`, then with IRQs off sync PIR to IRR if ON, enter), guest
//!   mode (handle the highest vIRR vector, `HLT`, take a notification), the
//!   `kvm_vcpu_block()` loop, `vmx_vcpu_pi_put()` on preemption or blocking,
//!   `vmx_vcpu_pi_load()` on the same or another pCPU;
//! - two pCPUs' local APICs: a notification sent to a pCPU stays pending in its
//!   IRR until the pCPU takes it, as posted-interrupt processing if the vCPU is in
//!   guest mode there, else as a host interrupt (`POSTED_INTR_VECTOR`: nothing to
//!   do; `POSTED_INTR_WAKEUP_VECTOR`: `pi_wakeup_handler()`);
//! - the host withdrawing the feature: the guest sees it gone and its ICR writes
//!   trap again; a notification written after that is handed by KVM to
//!   `kvm_vcpu_trigger_posted_interrupt()` for the target.
//!
//! ON clear and PIR harvest are separate steps, in KVM's `vmx_sync_pir_to_irr()`
//! as in posted-interrupt processing. Memory is sequentially consistent: on
//! x86 every store here is a locked read-modify-write or is followed by a full
//! barrier before the next shared load (`vcpu->mode`, `vmx_vcpu_pi_load()`).
//!
//! The descriptor is the real 64-byte layout from `ipi_core::posted`, with real
//! vectors and NDST encodings; only its vectors and pCPUs are few.

use std::fmt;

use ipi_core::apic::ApicId;
use ipi_core::apic::Vector;
use ipi_core::posted::ndst;
use ipi_core::posted::pir_bit;
use ipi_core::posted::Fallback;
use ipi_core::posted::PiControl;
use ipi_core::posted::PiDesc;
use ipi_core::posted::PostStep;
use ipi_core::posted::Posted;
use ipi_core::posted::POSTED_INTR_VECTOR;
use ipi_core::posted::POSTED_INTR_WAKEUP_VECTOR;

use crate::check::Model;

/// Number of pCPUs the target can run on.
pub const NCPU: usize = 2;

/// Most senders in one configuration.
pub const MAX_SENDERS: usize = 2;

/// Most sends in one sender's script.
pub const MAX_SENDS: usize = 2;

/// The guest vectors senders post, by index.
pub const VECTORS: [Vector; 2] = [Vector::CALL_FUNCTION, Vector::RESCHEDULE];

/// Pending-IRQ bit of `POSTED_INTR_VECTOR` in a pCPU's IRR.
const IRQ_POSTED: u8 = 1 << 0;

/// Pending-IRQ bit of `POSTED_INTR_WAKEUP_VECTOR` in a pCPU's IRR.
const IRQ_WAKEUP: u8 = 1 << 1;

/// A deliberate mistake in the guest's sender, to show the checker catches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SenderBug {
    /// None: the sender is `PostStep` as written.
    None,
    /// Sets ON (and notifies) before setting the PIR bit.
    OnBeforePir,
    /// Notifies with the NV and NDST of its first load, not those seen when ON was set.
    StaleControl,
    /// Falls back to KVM when SN shows up only after the PIR bit was set.
    FallbackAfterPir,
    /// Takes NV = wakeup vector to mean "asleep, KVM will see the PIR" and does not notify.
    WakeupMeansAsleep,
    /// Never falls back on SN: sets ON and notifies even then, as KVM's own sender does.
    IgnoreSn,
}

/// A deliberate mistake in KVM, to show which host behaviour the sender relies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostBug {
    /// None: KVM as of 2025 (`vmx_vcpu_pi_put()` with the wakeup handler enabled).
    None,
    /// Put does nothing, as when `vmx_needs_pi_wakeup()` is false (no IPIv, no VT-d PI).
    NoWakeupVector,
    /// Blocking put switches NV but forgets the self-IPI when ON is already set.
    NoOnRecheck,
    /// Load clears SN but does not set ON for a non-empty PIR.
    LoadSkipsPir,
    /// Load leaves NDST at the old pCPU after a migration.
    StaleNdst,
    /// Blocking put sets SN instead of switching NV to the wakeup vector.
    SnWhenBlocking,
    /// Preemption put forgets to set SN.
    NoSn,
    /// After withdrawal, a trapped notification write is emulated as an ordinary IPI.
    WithdrawDropsNotify,
}

/// What to explore: the senders' scripts, the host's budgets and the bugs.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Name printed with the results.
    pub name: &'static str,
    /// For each sender, the vector indices it sends, in order (empty: no sender).
    pub scripts: [&'static [usize]; MAX_SENDERS],
    /// How many times the target may be preempted.
    pub preempt: u8,
    /// How many times the target may be loaded on the other pCPU.
    pub migrate: u8,
    /// Whether the host offers the descriptor at the start (if not, every send falls back).
    pub offered: bool,
    /// Whether the host may withdraw the feature once.
    pub withdraw: bool,
    /// The sender's deliberate bug.
    pub sender_bug: SenderBug,
    /// KVM's deliberate bug.
    pub host_bug: HostBug,
}

impl Config {
    /// A correct sender and host with the given scripts and budgets.
    pub const fn new(name: &'static str, scripts: [&'static [usize]; MAX_SENDERS]) -> Self {
        Self {
            name,
            scripts,
            preempt: 3,
            migrate: 2,
            offered: true,
            withdraw: true,
            sender_bug: SenderBug::None,
            host_bug: HostBug::None,
        }
    }
}

/// The configurations `cargo test` and the binary explore, all with a correct sender and host.
pub const CONFIGS: [Config; 6] = [
    Config::new("one sender, one vector", [&[0], &[]]),
    Config::new("one sender, same vector twice", [&[0, 0], &[]]),
    Config::new("one sender, two vectors", [&[0, 1], &[]]),
    Config::new("two senders, two vectors", [&[0], &[1]]),
    Config::new("two senders, same vector", [&[0], &[0]]),
    Config::new("two senders, three sends", [&[0, 1], &[0]]),
];

/// Where the target vCPU's thread is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pc {
    /// `vcpu_enter_guest()`, IRQs on, `OUTSIDE_GUEST_MODE`.
    Enter,
    /// IRQs off, `IN_GUEST_MODE` set: next is `sync_pir_to_irr()` and VM entry.
    EnterIrqOff,
    /// VMX non-root mode.
    Guest,
    /// `kvm_vcpu_block()`: next is `set_current_state(TASK_INTERRUPTIBLE)`.
    BlockPrepare,
    /// `kvm_vcpu_block()`: next is `kvm_vcpu_check_block()`.
    BlockCheck,
    /// `kvm_vcpu_block()`: next is `schedule()`.
    Schedule,
    /// Scheduled out while blocking: only a wake-up makes it runnable.
    Asleep,
    /// Scheduled out but runnable; resumes at `Enter`.
    RunnableEnter,
    /// Scheduled out but runnable; resumes at `BlockPrepare`.
    RunnableBlockPrepare,
    /// Scheduled out but runnable; resumes at `BlockCheck`.
    RunnableBlockCheck,
    /// Scheduled out but runnable; resumes at `Schedule`.
    RunnableSchedule,
}

impl Pc {
    /// Where a runnable thread resumes, or `None` if it is not waiting to be scheduled in.
    const fn resume(self) -> Option<Self> {
        match self {
            Self::RunnableEnter => Some(Self::Enter),
            Self::RunnableBlockPrepare => Some(Self::BlockPrepare),
            Self::RunnableBlockCheck => Some(Self::BlockCheck),
            Self::RunnableSchedule => Some(Self::Schedule),
            _ => None,
        }
    }

    /// Tells whether the thread is on its pCPU.
    const fn on_cpu(self) -> bool {
        !matches!(self, Self::Asleep) && self.resume().is_none()
    }
}

/// The target vCPU: its thread and the KVM fields the protocol reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vcpu {
    /// Where its thread is.
    pub pc: Pc,
    /// `vcpu->cpu`: the pCPU it last ran on.
    pub cpu: u8,
    /// `vcpu->mode == IN_GUEST_MODE`.
    pub in_guest_mode: bool,
    /// Task state `TASK_INTERRUPTIBLE` (set in the block loop, cleared by a wake-up).
    pub waiting: bool,
    /// The pCPU whose wakeup list holds it, if any.
    pub wakeup_list: Option<u8>,
    /// ON was just cleared to sync the PIR: the next step moves the PIR to the vIRR.
    pub harvest: bool,
}

/// Where a sender is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SenderPc {
    /// Between sends: next is reading whether the host offers the descriptor.
    Idle,
    /// Running the guest protocol.
    Post(PostStep),
    /// In KVM after the fallback exit: next is `pi_test_and_set_on()`.
    KvmOn,
    /// In KVM: next is `kvm_vcpu_trigger_posted_interrupt()`.
    KvmTrigger,
    /// The script is done.
    Finished,
}

/// One sender and its progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sender {
    /// Where it is.
    pub pc: SenderPc,
    /// Index of the current send in its script.
    pub send: u8,
    /// The control word of its first load (for [`SenderBug::StaleControl`]).
    pub loaded: PiControl,
    /// The PIR bit is still to be set (for [`SenderBug::OnBeforePir`]).
    pub late_pir: bool,
}

/// A property broken by a single step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The guest handler ran for a vector with no send left to account for it.
    Duplicate(u8),
}

/// One global state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// The target's posted-interrupt descriptor.
    pub desc: PiDesc,
    /// The host offers the descriptor to the guest.
    pub offered: bool,
    /// ICR writes trap (the feature was withdrawn): a notification write is emulated.
    pub intercept: bool,
    /// The target's virtual IRR, one bit per entry of [`VECTORS`].
    pub virr: u8,
    /// Pending host vectors in each pCPU's local APIC.
    pub irq: [u8; NCPU],
    /// The target vCPU.
    pub vcpu: Vcpu,
    /// The senders.
    pub senders: [Sender; MAX_SENDERS],
    /// Per send (bit sender * MAX_SENDS + index): its request rides on a PIR bit.
    pub in_pir: u8,
    /// Per send: its request rides on a vIRR bit (moved there with the PIR).
    pub in_virr: u8,
    /// Per send: the guest handler ran for the vIRR bit it rode on.
    pub served: u8,
    /// Preemptions left.
    pub preempt: u8,
    /// Migrations left.
    pub migrate: u8,
    /// The host may still withdraw the feature.
    pub withdraw: bool,
    /// A property a step broke.
    pub fault: Option<Fault>,
}

/// What one step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    /// A sender's step.
    Sender(u8, &'static str),
    /// A step of the target vCPU's thread.
    Vcpu(&'static str),
    /// The guest's handler ran for a vector.
    Handle(Vector),
    /// `vmx_vcpu_pi_load()` on a pCPU.
    Load(u8),
    /// A pCPU took a pending host vector outside guest mode.
    HostIrq(u8, &'static str),
    /// The host withdrew the feature.
    Withdraw,
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sender(i, what) => write!(f, "sender{i}: {what}"),
            Self::Vcpu(what) => write!(f, "vcpu: {what}"),
            Self::Handle(v) => write!(f, "vcpu: guest handles {:#x}", v.get()),
            Self::Load(c) => write!(f, "vcpu: sched in, pi_load(cpu{c})"),
            Self::HostIrq(c, what) => write!(f, "cpu{c}: host irq {what}"),
            Self::Withdraw => write!(f, "host: withdraw the feature"),
        }
    }
}

fn bits(f: &mut fmt::Formatter<'_>, name: &str, mask: u8) -> fmt::Result {
    write!(f, " {name}={{")?;
    let mut sep = "";
    for (i, v) in VECTORS.iter().enumerate() {
        if mask & (1 << i) != 0 {
            write!(f, "{sep}{:x}", v.get())?;
            sep = ",";
        }
    }
    write!(f, "}}")
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.desc.control;
        let v = &self.vcpu;
        write!(f, "{:?}@cpu{}", v.pc, v.cpu)?;
        if v.in_guest_mode {
            write!(f, " IN_GUEST")?;
        }
        if v.waiting {
            write!(f, " INTERRUPTIBLE")?;
        }
        if let Some(l) = v.wakeup_list {
            write!(f, " on-wakeup-list{l}")?;
        }
        let nv = match c.nv() {
            POSTED_INTR_VECTOR => "posted".to_string(),
            POSTED_INTR_WAKEUP_VECTOR => "wakeup".to_string(),
            n => format!("{n:#x}"),
        };
        write!(
            f,
            " | ON={} SN={} NV={nv} NDST={}",
            u8::from(c.on()),
            u8::from(c.sn()),
            c.ndst()
        )?;
        bits(f, "PIR", pir_mask(&self.desc))?;
        bits(f, "vIRR", self.virr)?;
        for (cpu, irq) in self.irq.iter().enumerate() {
            if *irq != 0 {
                write!(f, " irq{cpu}=")?;
                if irq & IRQ_POSTED != 0 {
                    write!(f, "P")?;
                }
                if irq & IRQ_WAKEUP != 0 {
                    write!(f, "W")?;
                }
            }
        }
        if !self.offered {
            write!(f, " withdrawn")?;
        }
        for (i, s) in self.senders.iter().enumerate() {
            match s.pc {
                SenderPc::Finished => {}
                SenderPc::Post(PostStep::Notify { nv, ndst }) => {
                    write!(f, " | s{i}#{}: Notify(nv={nv:#x}, ndst={ndst})", s.send)?;
                }
                pc => write!(f, " | s{i}#{}: {pc:?}", s.send)?,
            }
        }
        write!(
            f,
            " | sends in PIR={:04b} vIRR={:04b} served={:04b}",
            self.in_pir, self.in_virr, self.served
        )
    }
}

/// The vector indices whose PIR bits are set.
fn pir_mask(d: &PiDesc) -> u8 {
    let mut m = 0;
    for (i, v) in VECTORS.iter().enumerate() {
        if d.pending(*v) {
            m |= 1 << i;
        }
    }
    m
}

/// The NDST value KVM writes for a pCPU (x2APIC mode, APIC id = pCPU number).
fn ndst_of(cpu: u8) -> u32 {
    ndst(ApicId(u32::from(cpu)), true).unwrap_or(u32::MAX)
}

/// The pCPU an NDST value names, if any.
fn cpu_of(ndst: u32) -> Option<u8> {
    (0..NCPU as u8).find(|c| ndst_of(*c) == ndst)
}

/// The pending-IRQ bit of a host vector, if it is one the model knows.
fn irq_bit(nv: u8) -> u8 {
    match nv {
        POSTED_INTR_VECTOR => IRQ_POSTED,
        POSTED_INTR_WAKEUP_VECTOR => IRQ_WAKEUP,
        _ => 0,
    }
}

/// The checked system for one [`Config`].
#[derive(Clone, Copy, Debug)]
pub struct System {
    /// What is explored.
    pub config: Config,
}

impl State {
    /// `lock bts` on a PIR bit: sets it and returns whether it was set.
    fn test_and_set_pir(&mut self, v: usize) -> bool {
        let Some(vector) = VECTORS.get(v) else {
            return true;
        };
        let b = pir_bit(*vector);
        let Some(w) = self.desc.pir.get_mut(b.word) else {
            return true;
        };
        let was = *w & b.mask != 0;
        *w |= b.mask;
        was
    }

    /// Moves every PIR bit into the vIRR and clears the PIR; the sends riding
    /// on PIR bits now ride on vIRR bits, coalescing with those already there.
    fn harvest_pir(&mut self) {
        self.virr |= pir_mask(&self.desc);
        self.desc.pir = [0; 4];
        self.in_virr |= self.in_pir;
        self.in_pir = 0;
    }

    /// Records that send `bit` set (or found set) its vector's PIR bit.
    ///
    /// A send rides on the bit only once: posting again after it was harvested
    /// leaves a bit no send accounts for, which is how a duplicate shows up.
    fn post(&mut self, bit: u8) {
        if (self.in_virr | self.served) & bit == 0 {
            self.in_pir |= bit;
        }
    }

    /// First half of `vmx_sync_pir_to_irr()` and of posted-interrupt
    /// processing: clear ON; the PIR is harvested by the vCPU's next step.
    fn clear_on(&mut self) {
        self.desc.control = self.desc.control.with_on(false);
        self.vcpu.harvest = true;
    }

    /// `kvm_vcpu_wake_up()`: makes a `TASK_INTERRUPTIBLE` thread runnable.
    fn wake_up(&mut self) {
        if self.vcpu.waiting {
            self.vcpu.waiting = false;
            if self.vcpu.pc == Pc::Asleep {
                self.vcpu.pc = Pc::RunnableBlockPrepare;
            }
        }
    }

    /// `kvm_vcpu_trigger_posted_interrupt(vcpu, POSTED_INTR_VECTOR)`.
    fn trigger(&mut self) {
        if self.vcpu.in_guest_mode {
            if let Some(irq) = self.irq.get_mut(usize::from(self.vcpu.cpu)) {
                *irq |= IRQ_POSTED;
            }
        } else {
            self.wake_up();
        }
    }

    /// `pi_wakeup_handler()` on `cpu`.
    fn wakeup_handler(&mut self, cpu: u8) {
        if self.vcpu.wakeup_list == Some(cpu) && self.desc.control.on() {
            self.wake_up();
        }
    }

    /// Serves the sends riding on vector `v`'s vIRR bit, or records a duplicate.
    fn handle(&mut self, v: usize, scripts: &[&[usize]; MAX_SENDERS]) {
        let mut mine = 0u8;
        for (s, script) in scripts.iter().enumerate() {
            for (k, sv) in script.iter().enumerate() {
                if *sv == v {
                    mine |= 1 << (s * MAX_SENDS + k);
                }
            }
        }
        let riders = mine & self.in_virr;
        if riders == 0 {
            self.fault = Some(Fault::Duplicate(v as u8));
        }
        self.served |= riders;
        self.in_virr &= !riders;
    }
}

impl System {
    fn send_bit(s: usize, k: u8) -> u8 {
        1 << (s * MAX_SENDS + usize::from(k))
    }

    /// Ends sender `s`'s current send.
    fn finish_send(&self, st: &mut State, s: usize) {
        if let Some(sender) = st.senders.get_mut(s) {
            sender.send += 1;
            let left = self
                .config
                .scripts
                .get(s)
                .is_some_and(|sc| usize::from(sender.send) < sc.len());
            sender.pc = if left {
                SenderPc::Idle
            } else {
                SenderPc::Finished
            };
            sender.late_pir = false;
            sender.loaded = PiControl::default();
        }
    }

    /// Continues a sender's guest protocol with the step `next`.
    fn go(&self, st: &mut State, s: usize, next: PostStep) {
        let late = st.senders.get(s).is_some_and(|x| x.late_pir);
        match next {
            PostStep::Done(_) if late => {
                if let Some(x) = st.senders.get_mut(s) {
                    x.pc = SenderPc::Post(PostStep::SetPir);
                }
            }
            PostStep::Done(_) => self.finish_send(st, s),
            step => {
                if let Some(x) = st.senders.get_mut(s) {
                    x.pc = SenderPc::Post(step);
                }
            }
        }
    }

    /// `vmx_vcpu_pi_put()`; `preempted` says whether the task stays runnable.
    fn put(&self, st: &mut State, preempted: bool) {
        let bug = self.config.host_bug;
        if bug == HostBug::NoWakeupVector {
            return;
        }
        let c = st.desc.control;
        if preempted || bug == HostBug::SnWhenBlocking {
            if bug != HostBug::NoSn || !preempted {
                st.desc.control = c.with_sn(true);
            }
            return;
        }
        // pi_enable_wakeup_handler()
        st.vcpu.wakeup_list = Some(st.vcpu.cpu);
        st.desc.control = c.with_nv(POSTED_INTR_WAKEUP_VECTOR);
        if c.on() && bug != HostBug::NoOnRecheck {
            if let Some(irq) = st.irq.get_mut(usize::from(st.vcpu.cpu)) {
                *irq |= IRQ_WAKEUP;
            }
        }
    }

    /// `vmx_vcpu_pi_load()` on `cpu`.
    fn load(&self, st: &mut State, cpu: u8) {
        let c = st.desc.control;
        let scan = if c.nv() != POSTED_INTR_WAKEUP_VECTOR && st.vcpu.cpu == cpu {
            st.desc.control = c.with_sn(false);
            c.sn()
        } else {
            st.vcpu.wakeup_list = None;
            let ndst = if self.config.host_bug == HostBug::StaleNdst {
                c.ndst()
            } else {
                ndst_of(cpu)
            };
            st.desc.control = c.with_ndst(ndst).with_sn(false).with_nv(POSTED_INTR_VECTOR);
            true
        };
        if scan && self.config.host_bug != HostBug::LoadSkipsPir && pir_mask(&st.desc) != 0 {
            st.desc.control = st.desc.control.with_on(true);
        }
        st.vcpu.cpu = cpu;
    }

    fn senders_next(&self, st: &State, out: &mut Vec<(Label, State)>) {
        let bug = self.config.sender_bug;
        for (s, sender) in st.senders.iter().enumerate() {
            let id = s as u8;
            let Some(&v) = self
                .config
                .scripts
                .get(s)
                .and_then(|sc| sc.get(usize::from(sender.send)))
            else {
                continue;
            };
            let mut n = st.clone();
            let label = match sender.pc {
                SenderPc::Finished => continue,
                SenderPc::Idle => {
                    let step = PostStep::start(st.offered);
                    self.go(&mut n, s, step);
                    "start (read offered)"
                }
                SenderPc::Post(PostStep::LoadControl) => {
                    let c = st.desc.control;
                    let mut step = PostStep::after_load(c);
                    if bug == SenderBug::IgnoreSn {
                        step = PostStep::SetPir;
                    }
                    if bug == SenderBug::OnBeforePir && step == PostStep::SetPir {
                        step = PostStep::SetOn;
                        if let Some(x) = n.senders.get_mut(s) {
                            x.late_pir = true;
                        }
                    }
                    if bug == SenderBug::StaleControl {
                        if let Some(x) = n.senders.get_mut(s) {
                            x.loaded = c;
                        }
                    }
                    self.go(&mut n, s, step);
                    "load control"
                }
                SenderPc::Post(PostStep::SetPir) => {
                    let was = n.test_and_set_pir(v);
                    n.post(Self::send_bit(s, sender.send));
                    if sender.late_pir {
                        self.finish_send(&mut n, s);
                    } else {
                        self.go(&mut n, s, PostStep::after_pir(was));
                    }
                    if was {
                        "set PIR bit (was set)"
                    } else {
                        "set PIR bit"
                    }
                }
                SenderPc::Post(PostStep::SetOn) => {
                    let seen = st.desc.control;
                    let claim = if bug == SenderBug::IgnoreSn {
                        (!seen.on()).then(|| seen.with_on(true))
                    } else {
                        seen.claim_on()
                    };
                    if let Some(c) = claim {
                        n.desc.control = c;
                    }
                    let mut step = if bug == SenderBug::IgnoreSn {
                        PostStep::after_on(seen.with_sn(false))
                    } else {
                        PostStep::after_on(seen)
                    };
                    match (bug, step) {
                        (SenderBug::StaleControl, PostStep::Notify { .. }) => {
                            step = PostStep::Notify {
                                nv: sender.loaded.nv(),
                                ndst: sender.loaded.ndst(),
                            };
                        }
                        (SenderBug::FallbackAfterPir, PostStep::Done(Posted::Suppressed)) => {
                            step = PostStep::Fallback(Fallback::Suppressed);
                        }
                        (SenderBug::WakeupMeansAsleep, PostStep::Notify { nv, .. })
                            if nv == POSTED_INTR_WAKEUP_VECTOR =>
                        {
                            step = PostStep::Done(Posted::Notified);
                        }
                        _ => {}
                    }
                    self.go(&mut n, s, step);
                    if claim.is_some() {
                        "set ON (was clear)"
                    } else if seen.on() {
                        "ON not set: ON already set"
                    } else {
                        "ON not set: SN set, PIR left to pi_load"
                    }
                }
                SenderPc::Post(PostStep::Notify { nv, ndst }) => {
                    let label = if st.intercept {
                        if self.config.host_bug != HostBug::WithdrawDropsNotify {
                            n.trigger();
                        }
                        "notify: ICR write trapped, KVM triggers"
                    } else {
                        match (cpu_of(ndst), irq_bit(nv)) {
                            (Some(c), bit) if bit != 0 => {
                                if let Some(irq) = n.irq.get_mut(usize::from(c)) {
                                    *irq |= bit;
                                }
                                if bit == IRQ_POSTED {
                                    "notify: send POSTED_INTR_VECTOR"
                                } else {
                                    "notify: send WAKEUP_VECTOR"
                                }
                            }
                            _ => "notify: nowhere (bad NV or NDST)",
                        }
                    };
                    self.go(&mut n, s, PostStep::Done(Posted::Notified));
                    label
                }
                SenderPc::Post(PostStep::Fallback(why)) => {
                    // The hypercall exits; KVM's __vmx_deliver_posted_interrupt().
                    let was = n.test_and_set_pir(v);
                    n.post(Self::send_bit(s, sender.send));
                    if was {
                        self.finish_send(&mut n, s);
                    } else if let Some(x) = n.senders.get_mut(s) {
                        x.pc = SenderPc::KvmOn;
                    }
                    match (why, was) {
                        (Fallback::Absent, false) => "fallback (absent): KVM sets PIR bit",
                        (Fallback::Absent, true) => "fallback (absent): KVM finds PIR bit set",
                        (Fallback::Suppressed, false) => "fallback (SN): KVM sets PIR bit",
                        (Fallback::Suppressed, true) => "fallback (SN): KVM finds PIR bit set",
                    }
                }
                SenderPc::Post(PostStep::Done(_)) => {
                    self.finish_send(&mut n, s);
                    "done"
                }
                SenderPc::KvmOn => {
                    let was = st.desc.control.on();
                    n.desc.control = st.desc.control.with_on(true);
                    if was {
                        self.finish_send(&mut n, s);
                        "KVM: set ON (was set)"
                    } else {
                        if let Some(x) = n.senders.get_mut(s) {
                            x.pc = SenderPc::KvmTrigger;
                        }
                        "KVM: set ON"
                    }
                }
                SenderPc::KvmTrigger => {
                    n.trigger();
                    self.finish_send(&mut n, s);
                    if st.vcpu.in_guest_mode {
                        "KVM: IN_GUEST_MODE, send POSTED_INTR_VECTOR"
                    } else {
                        "KVM: not in guest, kvm_vcpu_wake_up"
                    }
                }
            };
            out.push((Label::Sender(id, label), n));
        }
    }

    fn vcpu_next(&self, st: &State, out: &mut Vec<(Label, State)>) {
        let cpu = usize::from(st.vcpu.cpu);
        let irq = st.irq.get(cpu).copied().unwrap_or(0);
        let mut step = |label: Label, f: &dyn Fn(&mut State)| {
            let mut n = st.clone();
            f(&mut n);
            out.push((label, n));
        };
        let preempt = |n: &mut State, resume: Pc| {
            n.preempt -= 1;
            n.vcpu.in_guest_mode = false;
            self.put(n, true);
            n.vcpu.pc = resume;
        };
        // What follows kvm_vcpu_check_block()'s sync of the PIR.
        let after_check = |n: &mut State| {
            if n.virr != 0 {
                n.vcpu.waiting = false;
                n.vcpu.pc = Pc::Enter;
            } else {
                n.vcpu.pc = Pc::Schedule;
            }
        };
        if st.vcpu.harvest {
            // The PIR is read and cleared with one xchg per word (pi_harvest_pir);
            // the model's vectors share one word.
            step(Label::Vcpu("harvest PIR into vIRR"), &|n| {
                n.harvest_pir();
                n.vcpu.harvest = false;
                match n.vcpu.pc {
                    Pc::EnterIrqOff => n.vcpu.pc = Pc::Guest,
                    Pc::BlockCheck => after_check(n),
                    _ => {}
                }
            });
            return;
        }
        let on = st.desc.control.on();
        match st.vcpu.pc {
            Pc::Enter => step(Label::Vcpu("irqs off, mode = IN_GUEST_MODE"), &|n| {
                n.vcpu.in_guest_mode = true;
                n.vcpu.pc = Pc::EnterIrqOff;
            }),
            Pc::EnterIrqOff if on => step(Label::Vcpu("sync_pir_to_irr: clear ON"), &|n| {
                n.clear_on();
            }),
            Pc::EnterIrqOff => step(Label::Vcpu("sync_pir_to_irr: ON clear, VM entry"), &|n| {
                n.vcpu.pc = Pc::Guest;
            }),
            Pc::Guest => {
                if let Some(v) = (0..VECTORS.len()).rev().find(|v| st.virr & (1 << v) != 0) {
                    let label = VECTORS
                        .get(v)
                        .map_or(Label::Vcpu("?"), |x| Label::Handle(*x));
                    step(label, &|n| {
                        n.virr &= !(1 << v);
                        n.handle(v, &self.config.scripts);
                    });
                } else {
                    step(Label::Vcpu("HLT exit, kvm_vcpu_block"), &|n| {
                        n.vcpu.in_guest_mode = false;
                        n.vcpu.pc = Pc::BlockPrepare;
                    });
                }
                if irq & IRQ_POSTED != 0 {
                    step(Label::Vcpu("posted-interrupt processing: clear ON"), &|n| {
                        if let Some(i) = n.irq.get_mut(cpu) {
                            *i &= !IRQ_POSTED;
                        }
                        n.clear_on();
                    });
                }
                if irq & IRQ_WAKEUP != 0 {
                    step(
                        Label::Vcpu("exit on WAKEUP_VECTOR, pi_wakeup_handler"),
                        &|n| {
                            if let Some(i) = n.irq.get_mut(cpu) {
                                *i &= !IRQ_WAKEUP;
                            }
                            n.vcpu.in_guest_mode = false;
                            n.wakeup_handler(st.vcpu.cpu);
                            n.vcpu.pc = Pc::Enter;
                        },
                    );
                }
                if st.preempt > 0 {
                    step(Label::Vcpu("exit, preempted: pi_put"), &|n| {
                        preempt(n, Pc::RunnableEnter)
                    });
                }
            }
            Pc::BlockPrepare => step(Label::Vcpu("set_current_state(INTERRUPTIBLE)"), &|n| {
                n.vcpu.waiting = true;
                n.vcpu.pc = Pc::BlockCheck;
            }),
            Pc::BlockCheck => {
                if on {
                    step(Label::Vcpu("kvm_vcpu_check_block: sync, clear ON"), &|n| {
                        n.clear_on();
                    });
                } else {
                    step(Label::Vcpu("kvm_vcpu_check_block"), &after_check);
                }
                if st.preempt > 0 {
                    step(Label::Vcpu("preempted before check: pi_put"), &|n| {
                        preempt(n, Pc::RunnableBlockCheck)
                    });
                }
            }
            Pc::Schedule => {
                if st.vcpu.waiting {
                    step(Label::Vcpu("schedule: sleep, pi_put"), &|n| {
                        self.put(n, false);
                        n.vcpu.pc = Pc::Asleep;
                    });
                } else {
                    step(Label::Vcpu("schedule: woken, loop"), &|n| {
                        n.vcpu.pc = Pc::BlockPrepare;
                    });
                }
                if st.preempt > 0 {
                    step(Label::Vcpu("preempted before schedule: pi_put"), &|n| {
                        preempt(n, Pc::RunnableSchedule)
                    });
                }
            }
            Pc::Asleep => {}
            pc => {
                let Some(resume) = pc.resume() else {
                    return;
                };
                for c in 0..NCPU as u8 {
                    let same = c == st.vcpu.cpu;
                    if !same && st.migrate == 0 {
                        continue;
                    }
                    step(Label::Load(c), &|n| {
                        if !same {
                            n.migrate -= 1;
                        }
                        self.load(n, c);
                        n.vcpu.pc = resume;
                    });
                }
            }
        }
    }

    fn host_next(&self, st: &State, out: &mut Vec<(Label, State)>) {
        for (c, irq) in st.irq.iter().enumerate() {
            let c8 = c as u8;
            let here = st.vcpu.pc.on_cpu() && st.vcpu.cpu == c8;
            if *irq == 0 || (here && matches!(st.vcpu.pc, Pc::EnterIrqOff | Pc::Guest)) {
                continue;
            }
            let mut n = st.clone();
            let label = if irq & IRQ_POSTED != 0 {
                if let Some(i) = n.irq.get_mut(c) {
                    *i &= !IRQ_POSTED;
                }
                "POSTED_INTR_VECTOR (nothing to do)"
            } else {
                if let Some(i) = n.irq.get_mut(c) {
                    *i &= !IRQ_WAKEUP;
                }
                n.wakeup_handler(c8);
                "WAKEUP_VECTOR: pi_wakeup_handler"
            };
            out.push((Label::HostIrq(c8, label), n));
        }
        if st.withdraw && st.offered {
            let mut n = st.clone();
            n.withdraw = false;
            n.offered = false;
            n.intercept = true;
            out.push((Label::Withdraw, n));
        }
    }

    /// Tells whether a notification is on its way to the target's current pCPU.
    fn notification_in_flight(&self, st: &State) -> bool {
        let cpu = st.vcpu.cpu;
        let pending = st
            .irq
            .get(usize::from(cpu))
            .is_some_and(|i| i & IRQ_POSTED != 0);
        pending
            || st.senders.iter().any(|s| match s.pc {
                SenderPc::Post(PostStep::Notify { nv, ndst }) => {
                    st.intercept || (nv == POSTED_INTR_VECTOR && ndst == ndst_of(cpu))
                }
                SenderPc::KvmTrigger => true,
                _ => false,
            })
    }
}

impl Model for System {
    type State = State;
    type Label = Label;

    fn init(&self) -> State {
        State {
            desc: PiDesc {
                pir: [0; 4],
                control: PiControl::default()
                    .with_nv(POSTED_INTR_VECTOR)
                    .with_ndst(ndst_of(0)),
            },
            offered: self.config.offered,
            intercept: !self.config.offered,
            virr: 0,
            irq: [0; NCPU],
            vcpu: Vcpu {
                pc: Pc::Guest,
                cpu: 0,
                in_guest_mode: true,
                waiting: false,
                wakeup_list: None,
                harvest: false,
            },
            senders: core::array::from_fn(|s| Sender {
                pc: if self.config.scripts.get(s).is_some_and(|sc| !sc.is_empty()) {
                    SenderPc::Idle
                } else {
                    SenderPc::Finished
                },
                send: 0,
                loaded: PiControl::default(),
                late_pir: false,
            }),
            in_pir: 0,
            in_virr: 0,
            served: 0,
            preempt: self.config.preempt,
            migrate: self.config.migrate,
            withdraw: self.config.withdraw,
            fault: None,
        }
    }

    fn next(&self, s: &State, out: &mut Vec<(Label, State)>) {
        if s.fault.is_some() {
            return;
        }
        self.senders_next(s, out);
        self.vcpu_next(s, out);
        self.host_next(s, out);
    }

    fn check(&self, s: &State) -> Result<(), String> {
        if let Some(Fault::Duplicate(v)) = s.fault {
            let v = VECTORS.get(usize::from(v)).map_or(0, |x| x.get());
            return Err(format!(
                "duplicated interrupt: the guest handled {v:#x} more often than it was sent"
            ));
        }
        if s.vcpu.pc == Pc::Guest && s.desc.control.on() && !self.notification_in_flight(s) {
            return Err(
                "stranded notification: the target runs in guest mode with ON set and no \
                 notification on its way to its pCPU (the vector waits for an unrelated VM exit)"
                    .into(),
            );
        }
        Ok(())
    }

    fn check_terminal(&self, s: &State) -> Result<(), String> {
        if s.senders.iter().any(|x| x.pc != SenderPc::Finished) || s.vcpu.pc != Pc::Asleep {
            return Err("deadlock: no step is enabled but not everyone is done".into());
        }
        if pir_mask(&s.desc) != 0 || s.desc.control.on() || s.virr != 0 {
            return Err(
                "lost interrupt: the target sleeps with a pending posted vector (PIR, ON or vIRR)"
                    .into(),
            );
        }
        let mut all = 0u8;
        for (i, sc) in self.config.scripts.iter().enumerate() {
            for k in 0..sc.len() {
                all |= Self::send_bit(i, k as u8);
            }
        }
        if s.served != all {
            return Err("lost interrupt: a send was never posted or never handled".into());
        }
        Ok(())
    }
}
