//! Adapter discovery, for `mistral devices` and `--adapter N`.

use std::fmt;

/// What `mistral devices` shows about one adapter.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    /// Position in [`list_adapters`], the value `--adapter` takes.
    pub index: usize,
    pub name: String,
    /// Vulkan, Metal, Dx12, ...
    pub backend: String,
    /// DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu, Other.
    pub device_type: String,
    pub driver: String,
    /// Largest storage buffer binding in bytes (weights above it are split across buffers).
    pub max_storage_binding: u64,
    /// Largest buffer in bytes.
    pub max_buffer: u64,
    pub max_workgroup_invocations: u32,
    /// `SHADER_F16`: f16 storage and arithmetic in shaders.
    pub f16: bool,
    /// `SUBGROUP`: subgroup operations in compute shaders.
    pub subgroups: bool,
}

impl fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "yes" } else { "no" };
        write!(
            f,
            "{}: {} ({}, {}) driver {:?}; max binding {} MiB, max buffer {} MiB, {} invocations/workgroup; f16 {}, subgroups {}",
            self.index,
            self.name,
            self.backend,
            self.device_type,
            self.driver,
            self.max_storage_binding >> 20,
            self.max_buffer >> 20,
            self.max_workgroup_invocations,
            yes(self.f16),
            yes(self.subgroups)
        )
    }
}

pub(crate) fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::PRIMARY;
    // Where the driver reports a memory budget (Vulkan, DX12), fail allocations past 95% of it with
    // an out-of-memory error instead of losing the device.
    desc.memory_budget_thresholds.for_resource_creation = Some(95);
    wgpu::Instance::new(desc)
}

pub(crate) fn adapters(instance: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY))
}

pub(crate) fn summary(index: usize, a: &wgpu::Adapter) -> AdapterSummary {
    let (info, limits, features) = (a.get_info(), a.limits(), a.features());
    AdapterSummary {
        index,
        name: info.name,
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
        max_storage_binding: limits.max_storage_buffer_binding_size,
        max_buffer: limits.max_buffer_size,
        max_workgroup_invocations: limits.max_compute_invocations_per_workgroup,
        f16: features.contains(wgpu::Features::SHADER_F16),
        subgroups: features.contains(wgpu::Features::SUBGROUP),
    }
}

/// Every adapter wgpu finds (Vulkan, Metal, DX12), in the order `--adapter N` indexes them.
pub fn list_adapters() -> Vec<AdapterSummary> {
    adapters(&instance())
        .iter()
        .enumerate()
        .map(|(i, a)| summary(i, a))
        .collect()
}

/// The adapter used when none is named: discrete, then integrated, virtual, CPU, other.
pub(crate) fn preferred(adapters: &[wgpu::Adapter]) -> Option<usize> {
    use wgpu::DeviceType as D;
    let rank = |t: D| match t {
        D::DiscreteGpu => 0,
        D::IntegratedGpu => 1,
        D::VirtualGpu => 2,
        D::Cpu => 3,
        D::Other => 4,
    };
    (0..adapters.len()).min_by_key(|&i| rank(adapters[i].get_info().device_type))
}
