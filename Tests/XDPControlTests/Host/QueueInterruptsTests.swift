import Testing
@testable import XDPControl

/// Queue interrupts by the names drivers give them in /proc/interrupts.
@Suite("Queue interrupts")
struct QueueInterruptsTests {
    @Test("igb and ixgbe: <ifname>-TxRx-<n>; the link interrupt and longer names are not queues")
    func intelTxRx() {
        let text = """
                   CPU0       CPU1
          24:          0          0   PCI-MSIX-0000:01:00.0    0-edge      eth0
          25:        812          0   PCI-MSIX-0000:01:00.0    1-edge      eth0-TxRx-0
          26:          0        640   PCI-MSIX-0000:01:00.0    2-edge      eth0-TxRx-1
          27:          0          0   PCI-MSIX-0000:02:00.0    1-edge      eth10-TxRx-0
        """
        #expect(Interface.queueIRQs(of: "eth0", interrupts: text) == [0: 25, 1: 26])
        #expect(Interface.queueIRQs(of: "eth1", interrupts: text) == [:])
    }

    @Test("separate RX and TX vectors: the RX one is the queue's")
    func separateRXTX() {
        let text = """
          30:          0          0   PCI-MSIX-0000:01:00.0    1-edge      eth0-tx-0
          31:          0          0   PCI-MSIX-0000:01:00.0    2-edge      eth0-rx-0
          32:          0          0   PCI-MSIX-0000:01:00.0    3-edge      eth0-tx-1
        """
        #expect(Interface.queueIRQs(of: "eth0", interrupts: text) == [0: 31, 1: 32])
    }

    @Test("ice, i40e, iavf: a driver prefix before the interface name")
    func driverPrefix() {
        let text = """
          88:          0          0  IR-PCI-MSIX-0000:3b:00.0    0-edge      ice-0000:3b:00.0:misc
          89:       1022          0  IR-PCI-MSIX-0000:3b:00.0    1-edge      ice-ens1f0-TxRx-0
          90:          0       2001  IR-PCI-MSIX-0000:3b:00.0    2-edge      ice-ens1f0-TxRx-1
          91:          0          0  IR-PCI-MSIX-0000:3b:00.1    1-edge      ice-ens1f1-TxRx-0
          92:          0          0  IR-PCI-MSIX-0000:5e:00.0    1-edge      i40e-br-lan-TxRx-0
        """
        #expect(Interface.queueIRQs(of: "ens1f0", interrupts: text) == [0: 89, 1: 90])
        #expect(Interface.queueIRQs(of: "ens1f1", interrupts: text) == [0: 91])
        #expect(Interface.queueIRQs(of: "br-lan", interrupts: text) == [0: 92])
    }

    @Test("virtio_net: virtioN-input.M by the interface's virtio device, not its name")
    func virtio() {
        let text = """
          40:          0          0   PCI-MSIX-0000:00:03.0    0-edge      virtio1-config
          41:        511          0   PCI-MSIX-0000:00:03.0    1-edge      virtio1-input.0
          42:          0        498   PCI-MSIX-0000:00:03.0    2-edge      virtio1-output.0
          43:          3          0   PCI-MSIX-0000:00:03.0    3-edge      virtio1-input.1
          44:          0          0   PCI-MSIX-0000:00:03.0    4-edge      virtio1-output.1
          45:          0          0   PCI-MSIX-0000:00:04.0    1-edge      virtio2-input.0
          46:          0          0   PCI-MSIX-0000:00:05.0    1-edge      virtio12-input.0
        """
        #expect(Interface.queueIRQs(of: "eth0", virtioDevice: "virtio1", interrupts: text) == [0: 41, 1: 43])
        #expect(Interface.queueIRQs(of: "eth1", virtioDevice: "virtio2", interrupts: text) == [0: 45])
        #expect(Interface.queueIRQs(of: "eth0", interrupts: text) == [:])
    }

    @Test("mlx5: mlx5_comp<n>@pci:<bus> by the interface's PCI address")
    func mlx5() {
        let text = """
          60:          0          0  IR-PCI-MSIX-0000:08:00.0    0-edge      mlx5_async0@pci:0000:08:00.0
          61:        100          0  IR-PCI-MSIX-0000:08:00.0    1-edge      mlx5_comp0@pci:0000:08:00.0
          62:          0        200  IR-PCI-MSIX-0000:08:00.0    2-edge      mlx5_comp1@pci:0000:08:00.0
          63:          0          0  IR-PCI-MSIX-0000:08:00.1    1-edge      mlx5_comp0@pci:0000:08:00.1
        """
        #expect(Interface.queueIRQs(of: "enp8s0f0np0", bus: "0000:08:00.0", interrupts: text) == [0: 61, 1: 62])
        #expect(Interface.queueIRQs(of: "enp8s0f1np1", bus: "0000:08:00.1", interrupts: text) == [0: 63])
        #expect(Interface.queueIRQs(of: "enp8s0f0np0", interrupts: text) == [:])
    }
}
