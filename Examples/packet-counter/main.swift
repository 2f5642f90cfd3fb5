// packet-counter: per-flow packet and byte counters over the async bridge,
// printed once a second; everything the match leaves alone stays with the kernel.
//
//   packet-counter -i IFACE (--port P | --ports A-B | --protocol N | --ethertype HEX)
//                  [--queues all|LIST] [--cpus LIST] [--netns NS] [--duration S] [--buffer N]
//
// Stops after --duration seconds or on SIGINT/SIGTERM, then prints the final
// table as one JSON line: {"flows":[{"flow":..,"packets":..,"bytes":..}],"received":..,...}.
import Foundation
import Logging
import Synchronization
import XDP
import XDPControl
import XDPService

let options: CounterOptions
do {
    options = try CounterOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("packet-counter: \(error)\n\(CounterOptions.usage)\n".utf8))
    exit(64)
}

do {
    let stream = try PacketStream(configuration: options.configuration, bufferCapacity: options.buffer)
    FileHandle.standardError.write(Data("packet-counter: \(stream.setup.summary)\n".utf8))
    let table = FlowTable()
    let counting = Task {
        for await batch in stream {
            table.count(batch)
            if options.slowConsumerMicroseconds > 0 { usleep(UInt32(options.slowConsumerMicroseconds)) }
        }
    }
    // SIGINT/SIGTERM or the duration end the counting task: cancelling it stops the stream.
    for number in [SIGINT, SIGTERM] { signal(number, SIG_IGN) }
    let signals = [SIGINT, SIGTERM].map { number in
        let source = DispatchSource.makeSignalSource(signal: number)
        source.setEventHandler { counting.cancel() }
        source.resume()
        return source
    }
    let started = ContinuousClock.now
    while !counting.isCancelled {
        try? await Task.sleep(for: .seconds(1))
        FileHandle.standardOutput.write(Data((table.report(elapsed: ContinuousClock.now - started) + "\n").utf8))
        if let duration = options.duration, ContinuousClock.now - started >= .seconds(duration) { counting.cancel() }
    }
    await counting.value
    _ = signals
    let statistics = stream.statistics
    FileHandle.standardOutput.write(Data((table.json(statistics) + "\n").utf8))
} catch {
    FileHandle.standardError.write(Data("packet-counter: \(error)\n".utf8))
    exit(1)
}
