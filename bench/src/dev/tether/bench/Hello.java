package dev.tether.bench;

/** A bare hello-world, to time the JVM's own start-up beside the launched app. */
public final class Hello {
  private Hello() {}

  public static void main(String[] args) {
    System.out.println("hello");
  }
}
