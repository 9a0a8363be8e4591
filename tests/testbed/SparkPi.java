// The one class of the test bed's Spark examples jar (apache_mirror.sh): pyspark does not
// carry Apache's spark-examples jar, and the spark component's smoke test submits
// org.apache.spark.examples.SparkPi from it. Like Apache's example, it throws darts at the
// unit square in SLICES tasks (argument 1, default 2) and prints "Pi is roughly <estimate>".
package org.apache.spark.examples;

import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

public final class SparkPi {
    private static final int DARTS_PER_SLICE = 100_000;

    private SparkPi() {}

    public static void main(String[] args) {
        int slices = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        SparkSession spark = SparkSession.builder().appName("Spark Pi").getOrCreate();
        try {
            JavaSparkContext context = new JavaSparkContext(spark.sparkContext());
            int darts = DARTS_PER_SLICE * slices;
            long inside = context
                .parallelize(IntStream.range(0, darts).boxed().collect(Collectors.toList()), slices)
                .filter(dart -> {
                    double x = ThreadLocalRandom.current().nextDouble(-1, 1);
                    double y = ThreadLocalRandom.current().nextDouble(-1, 1);
                    return x * x + y * y <= 1;
                })
                .count();
            System.out.println("Pi is roughly " + 4.0 * inside / darts);
        } finally {
            spark.stop();
        }
    }
}
