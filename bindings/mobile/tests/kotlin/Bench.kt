// `HarnessKt --bench`: the cost of one call from Kotlin through uniffi/JNA into the library
// (figures in BENCHMARKS.md). Offline client from the vectors' valid snapshot; no exposures
// (not started), so this is conversion + evaluation.
package dev.burgee.mobile.test

import dev.burgee.mobile.*

private fun measure(name: String, iterations: Int, body: () -> Unit) {
    repeat(iterations / 10) { body() } // warm-up (JIT)
    val start = System.nanoTime()
    repeat(iterations) { body() }
    val ns = (System.nanoTime() - start).toDouble() / iterations
    println("BENCH mobile-jvm $name: ${"%.0f".format(ns)} ns/call ($iterations calls)")
}

fun bench() {
    val (envelope, publicKey) = freshEnvelope()
    BurgeeClient(config(tmpDir("bench"), publicKey).copy(bootstrapEnvelope = envelope)).use { c ->
        val ctx = EvaluationContext("user-42", mapOf("country" to AttributeValue.String("DE")))
        val snap = c.snapshot()!!
        val now = nowMs()
        var sink = 0
        measure("client.getBooleanValue (context handle)", 200_000) { if (c.getBooleanValue("new-checkout", false, ctx)) sink++ }
        measure("client.getBooleanDetails (context handle)", 200_000) { if (c.getBooleanDetails("new-checkout", false, ctx).value) sink++ }
        measure("snapshot.getBooleanDetails (explicit now)", 200_000) { if (snap.getBooleanDetails("new-checkout", false, ctx, now).value) sink++ }
        measure("EvaluationContext(key, 3 attributes) + close", 100_000) {
            EvaluationContext("user-42", mapOf("country" to AttributeValue.String("DE"),
                "age" to AttributeValue.Number(31.0), "beta" to AttributeValue.Boolean(true))).close()
        }
        check(sink > 0) { "nothing evaluated" }
    }
}
