-- wrk: after the run, the latency percentiles wrk's --latency table leaves out (p99.9, max).
function done(summary, latency, requests)
    io.write(string.format("p99.9 %.2fms max %.2fms\n", latency:percentile(99.9) / 1000,
        latency.max / 1000))
end
