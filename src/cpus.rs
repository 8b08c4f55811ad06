//! A CPU of its own for each of `scan`'s workers.
//!
//! Left to the scheduler, the threads of a short scan often share one CPU while another
//! stays idle: a thread woken or started by a busy thread is queued behind it, and some
//! virtual machines' schedulers go further and gather runnable threads onto as few virtual
//! CPUs as they can. On the 2-vCPU Firecracker guest the benchmarks run on
//! (`kernel.sched_vcpu_pack`), two workers released from their binding after their first job
//! were gathered onto one CPU for the rest of the scan (`datasets/evtx`, 2 rules: 13.05 ms,
//! one thread's time); bound throughout, 7.92 ms (medians of 61 runs of a prototype that
//! decoded 4 chunks per worker while the rules loaded; docs/scan.md). Threads are bound only
//! when each can have a CPU of its own among those the process may use; with more threads
//! than CPUs the scheduler shares them out, and `scan --no-bind` leaves them all to it.

/// The CPUs the workers are bound to, the first for the calling thread (the CPU it is on),
/// and the calling thread's CPUs before, to restore.
pub struct Binding {
    cpus: Vec<usize>,
    before: Vec<usize>,
}

impl Binding {
    /// A CPU for each of `workers` workers, when the calling thread may run on at least as
    /// many; `None` otherwise, or when the system does not tell.
    pub fn plan(workers: usize) -> Option<Binding> {
        let before = sys::allowed()?;
        let cpus = plan(&before, sys::current(), workers)?;
        Some(Binding { cpus, before })
    }

    /// Binds the calling thread to worker `worker`'s CPU (0: the thread that planned).
    pub fn bind(&self, worker: usize) {
        if let Some(&cpu) = self.cpus.get(worker) {
            sys::set_allowed(&[cpu]);
        }
    }

    /// Gives the calling thread back the CPUs it had before [`Binding::plan`].
    pub fn release(&self) {
        sys::set_allowed(&self.before);
    }
}

/// `workers` CPUs out of `allowed` (in order): `current` and the ones after it, round, when
/// it is one of them (scans started on different CPUs of a large machine take different
/// ones, not all the first), else the first; `None` for one worker, or for more workers
/// than CPUs.
fn plan(allowed: &[usize], current: Option<usize>, workers: usize) -> Option<Vec<usize>> {
    if workers < 2 || workers > allowed.len() {
        return None;
    }
    let start = current
        .and_then(|c| allowed.iter().position(|&a| a == c))
        .unwrap_or(0);
    Some(
        allowed
            .iter()
            .cycle()
            .skip(start)
            .take(workers)
            .copied()
            .collect(),
    )
}

#[cfg(target_os = "linux")]
mod sys {
    use std::mem::{size_of, zeroed};

    const SET_SIZE: usize = size_of::<libc::cpu_set_t>();

    /// The CPUs the calling thread may run on.
    pub fn allowed() -> Option<Vec<usize>> {
        // SAFETY: `cpu_set_t` is plain bits (all zero is the empty set); the kernel writes at
        // most `SET_SIZE` bytes into it.
        let set = unsafe {
            let mut set: libc::cpu_set_t = zeroed();
            (libc::sched_getaffinity(0, SET_SIZE, &mut set) == 0).then_some(set)
        }?;
        // SAFETY: `CPU_ISSET` reads the bit of a CPU below `CPU_SETSIZE` in the set.
        let has = |cpu: usize| unsafe { libc::CPU_ISSET(cpu, &set) };
        Some(
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&cpu| has(cpu))
                .collect(),
        )
    }

    /// The CPU the calling thread runs on.
    pub fn current() -> Option<usize> {
        // SAFETY: no arguments; returns -1 on failure.
        usize::try_from(unsafe { libc::sched_getcpu() }).ok()
    }

    /// Lets the calling thread run on `cpus` only. A failure leaves it where it may run:
    /// binding is a placement, not a condition of the scan.
    pub fn set_allowed(cpus: &[usize]) {
        // SAFETY: as in `allowed`; the kernel reads `SET_SIZE` bytes of the set.
        unsafe {
            let mut set: libc::cpu_set_t = zeroed();
            for &cpu in cpus {
                libc::CPU_SET(cpu, &mut set);
            }
            libc::sched_setaffinity(0, SET_SIZE, &set);
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    pub fn allowed() -> Option<Vec<usize>> {
        None
    }

    pub fn current() -> Option<usize> {
        None
    }

    pub fn set_allowed(_cpus: &[usize]) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_planning_thread_keeps_its_cpu_and_the_others_follow_in_order() {
        assert_eq!(plan(&[0, 1, 2, 3], Some(2), 3), Some(vec![2, 3, 0]));
        assert_eq!(plan(&[0, 1, 2, 3], Some(1), 2), Some(vec![1, 2]));
        assert_eq!(plan(&[4, 6], Some(6), 2), Some(vec![6, 4]));
        // A CPU the thread may not use (it was just moved) is not planned.
        assert_eq!(plan(&[4, 6], Some(1), 2), Some(vec![4, 6]));
        assert_eq!(plan(&[0, 1], None, 2), Some(vec![0, 1]));
    }

    #[test]
    fn one_worker_or_more_workers_than_cpus_are_not_bound() {
        assert_eq!(plan(&[0, 1], Some(0), 1), None);
        assert_eq!(plan(&[0, 1], Some(0), 3), None);
        assert_eq!(plan(&[], None, 2), None);
    }

    /// The binding is the kernel's: a bound thread may run on its CPU only, and runs there;
    /// released, it may run where it could before.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_bound_thread_runs_on_its_cpu_and_is_released_to_its_cpus() {
        let allowed = sys::allowed().expect("sched_getaffinity");
        let Some(binding) = Binding::plan(allowed.len()) else {
            // One CPU: nothing to bind to, as `plan` says.
            assert_eq!(allowed.len(), 1);
            return;
        };
        let last = allowed.len() - 1;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                binding.bind(last);
                assert_eq!(sys::allowed(), Some(vec![binding.cpus[last]]));
                assert_eq!(sys::current(), Some(binding.cpus[last]));
                binding.release();
                assert_eq!(sys::allowed(), Some(allowed.clone()));
            });
        });
    }
}
